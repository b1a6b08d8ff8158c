"""Random shifts and rotations (DEC-DA): shapes, seeding, pixels really moved, P from clean data."""

import math

import numpy as np
import pytest
import torch

from decluster import DEC, IDEC
from decluster.data.augmentation import ImageAugmentation, image_shape_of, transform_images
from decluster.nn.student_t import compute_snapshot
from decluster.training.clustering import ClusteringObjective
from decluster.training.settings import ClusteringSettings


def _one_pixel(height: int, width: int, row: int, col: int) -> torch.Tensor:
    image = torch.zeros(1, 1, height, width)
    image[0, 0, row, col] = 1.0
    return image


def test_zero_shift_and_zero_rotation_is_the_identity():
    images = torch.rand(5, 3, 7, 11, generator=torch.Generator().manual_seed(0))
    moved = transform_images(images, torch.zeros(5), torch.zeros(5, 2))
    torch.testing.assert_close(moved, images, atol=1e-6, rtol=0)


def test_a_shift_of_one_pixel_by_hand():
    image = _one_pixel(4, 4, row=1, col=1)
    right = transform_images(image, torch.zeros(1), torch.tensor([[0.25, 0.0]]))  # a quarter of 4 columns
    down = transform_images(image, torch.zeros(1), torch.tensor([[0.0, 0.25]]))
    torch.testing.assert_close(right, _one_pixel(4, 4, row=1, col=2), atol=1e-6, rtol=0)
    torch.testing.assert_close(down, _one_pixel(4, 4, row=2, col=1), atol=1e-6, rtol=0)


def test_a_half_turn_by_hand():
    image = _one_pixel(3, 3, row=0, col=1)
    turned = transform_images(image, torch.tensor([math.pi]), torch.zeros(1, 2))
    torch.testing.assert_close(turned, _one_pixel(3, 3, row=2, col=1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("shape", [(8, 8, 1), (6, 10, 3), (28, 28, 1)])
def test_augmentation_keeps_shapes_is_seeded_and_moves_pixels(shape):
    rows = torch.rand(16, math.prod(shape), generator=torch.Generator().manual_seed(1))
    augment = ImageAugmentation(shape)
    first = augment(rows, torch.Generator().manual_seed(7))
    again = augment(rows, torch.Generator().manual_seed(7))
    other = augment(rows, torch.Generator().manual_seed(8))
    assert first.shape == rows.shape and first.dtype == rows.dtype
    torch.testing.assert_close(first, again, atol=0, rtol=0)
    assert not torch.equal(first, other)
    assert bool(((first - rows).abs().amax(dim=1) > 1e-3).all())  # every image moved


def test_channels_last_rows_keep_their_channels_apart():
    red = torch.zeros(1, 4, 4, 3)
    red[..., 0] = 1.0  # an all-red image stays red in its interior whatever the small move
    moved = ImageAugmentation((4, 4, 3), max_shift=0.0, max_rotation=0.0)(
        red.reshape(1, -1), torch.Generator().manual_seed(0)).reshape(1, 4, 4, 3)
    torch.testing.assert_close(moved, red, atol=1e-6, rtol=0)


def test_image_shape_is_checked_against_the_features():
    assert image_shape_of((8, 8), 64) == (8, 8, 1)
    assert image_shape_of([4, 5, 3], 60) == (4, 5, 3)
    with pytest.raises(ValueError, match="holds 63 values"):
        image_shape_of((7, 9), 64)
    with pytest.raises(ValueError, match="height, width"):
        image_shape_of((64,), 64)


def test_the_target_comes_from_the_clean_data_and_the_loss_from_augmented_batches():
    data = torch.rand(40, 64, generator=torch.Generator().manual_seed(0))
    encoder = torch.nn.Sequential(torch.nn.Linear(64, 5))
    centers = torch.nn.Parameter(torch.randn(3, 5, generator=torch.Generator().manual_seed(1)))
    augmented = ClusteringSettings(augmentation=ImageAugmentation((8, 8, 1)))
    objective = ClusteringObjective(encoder, centers, data, augmented, generator=torch.Generator().manual_seed(2))
    clean = compute_snapshot(encoder.eval(), centers.detach(), data, 1.0)
    objective.labels  # the first target, computed when first needed
    torch.testing.assert_close(objective.target.snapshot.target, clean.target, atol=0, rtol=0)
    plain = ClusteringObjective(encoder, centers, data, ClusteringSettings())
    index = torch.arange(10)
    assert float(objective.batch_loss(index).detach()) != pytest.approx(float(plain.batch_loss(index).detach()), abs=1e-7)


def test_augment_needs_a_matching_image_shape(digits_small, make_dec):
    with pytest.raises(ValueError, match="needs image_shape"):
        make_dec(augment=True).fit(digits_small[0])
    with pytest.raises(ValueError, match="holds 63 values"):
        make_dec(augment=True, image_shape=(7, 9)).fit(digits_small[0])
    with pytest.raises(TypeError, match="augment must be True or False"):
        make_dec(augment="yes").fit(digits_small[0])


def test_seeded_augmented_fits_are_identical_and_differ_from_plain_ones(digits_small, make_dec):
    X = digits_small[0]
    first = make_dec(augment=True, image_shape=(8, 8)).fit(X).labels_
    again = make_dec(augment=True, image_shape=(8, 8)).fit(X).labels_
    plain = make_dec().fit(X)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, plain.labels_)
    idec = IDEC(**{**make_dec().get_params(), "lr": 1e-3, "augment": True, "image_shape": (8, 8),
                   "autoencoder": plain.autoencoder_}).fit(X)
    assert idec.labels_.shape == (len(X),)


AUGMENTED = dict(n_clusters=10, hidden_dims=[64, 64], layer_epochs=2, finetune_epochs=3, pretrain_batch_size=64,
                 n_init=2, update_interval=30, max_iter=150, batch_size=64, device="cpu", precision="float32",
                 random_state=3, augment=True, image_shape=[8, 8])


def test_sigkill_then_resume_with_augmentation_gives_the_same_labels(digits, kill_and_resume):
    config, reference, resumed = kill_and_resume(AUGMENTED, digits[0][:500], "iteration 60:")
    assert config["stage"] == "clustering" and config["loop"] is not None
    np.testing.assert_array_equal(resumed, reference)


def test_dec_constructor_stores_the_augmentation_parameters():
    model = DEC(augment=True, image_shape=(28, 28))
    assert model.get_params()["augment"] is True and model.get_params()["image_shape"] == (28, 28)

import pytest
import torch
from torch import nn

from decluster.nn.autoencoder import StackedAutoencoder
from decluster.objectives import reconstruction_error
from decluster.training.pretraining import _dropout, _lr_factor, pretrain_autoencoder
from decluster.training.settings import PretrainSettings


def test_default_architecture_shapes_and_activations():
    model = StackedAutoencoder([784, 500, 500, 2000, 10], generator=torch.Generator().manual_seed(0))
    widths = [(m.in_features, m.out_features) for m in model.encoder if isinstance(m, nn.Linear)]
    assert widths == [(784, 500), (500, 500), (500, 2000), (2000, 10)]
    # ReLU after every layer except the embedding and the reconstruction
    assert [type(m) for m in model.encoder][-1] is nn.Linear
    assert [type(m) for m in model.decoder][-1] is nn.Linear
    assert sum(isinstance(m, nn.ReLU) for m in model.encoder) == 3
    assert model(torch.zeros(2, 784)).shape == (2, 784)


def test_layer_pairs_undo_each_other():
    model = StackedAutoencoder([8, 6, 4, 2], generator=torch.Generator().manual_seed(0))
    for depth, (n_in, n_out) in enumerate([(8, 6), (6, 4), (4, 2)]):
        encode, decode = model.layer_pair(depth)
        assert (encode.in_features, encode.out_features) == (n_in, n_out)
        assert (decode.in_features, decode.out_features) == (n_out, n_in)


def test_initialisation_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    first = StackedAutoencoder([5, 4, 2], generator=torch.Generator().manual_seed(7))
    second = StackedAutoencoder([5, 4, 2], generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.random.get_rng_state(), state)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dims", [[5], [5, 0, 2]])
def test_invalid_dims(dims):
    with pytest.raises(ValueError):
        StackedAutoencoder(dims)


def test_dropout_is_seeded_and_unbiased():
    x = torch.ones(200, 50)
    first = _dropout(x, 0.2, torch.Generator().manual_seed(0))
    second = _dropout(x, 0.2, torch.Generator().manual_seed(0))
    assert torch.equal(first, second)
    assert float((first == 0).float().mean()) == pytest.approx(0.2, abs=0.02)
    assert float(first.mean()) == pytest.approx(1.0, abs=0.03)
    assert _dropout(x, 0.0, torch.Generator()) is x


def test_reconstruction_error_is_half_the_mean_square_error():
    output = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    target = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    # squared errors 1, 4, 9, 0 over 4 entries: mean 3.5, half 1.75
    assert float(reconstruction_error(output, target)) == pytest.approx(1.75)


def test_learning_rate_schedules():
    assert _lr_factor("constant", 50, 100) == 1.0
    assert [_lr_factor("step", s, 100) for s in (0, 39, 40, 79, 80)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    assert _lr_factor("cosine", 0, 100) == pytest.approx(1.0)
    assert _lr_factor("cosine", 50, 100) == pytest.approx(0.5)
    assert _lr_factor("cosine", 100, 100) == pytest.approx(0.0)


@pytest.mark.parametrize("mode", ["layerwise", "end-to-end"])
@pytest.mark.parametrize("optimizer, lr", [("adam", 1e-3), ("sgd", 0.1)])  # 0.1: the paper's SGD rate
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_pretraining_reduces_reconstruction_error(digits, mode, optimizer, lr, precision):
    X, _ = digits
    data = torch.from_numpy(X)
    model = StackedAutoencoder([64, 32, 8], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = float(nn.functional.mse_loss(model(data), data))
    settings = PretrainSettings(mode=mode, layer_epochs=3, finetune_epochs=5, optimizer=optimizer, lr=lr,
                                lr_schedule="step", batch_size=64, precision=precision)
    losses = pretrain_autoencoder(model, data, settings, torch.Generator().manual_seed(0))
    with torch.no_grad():
        after = float(nn.functional.mse_loss(model(data), data))
    assert after < 0.7 * before
    expected = ["layer 1", "layer 2", "fine-tuning"] if mode == "layerwise" else ["fine-tuning"]
    assert list(losses) == expected
    assert all(len(values) == (3 if name.startswith("layer") else 5) for name, values in losses.items())


def test_wide_codes_are_recomputed_not_kept():
    from decluster.training.pretraining import _layer_pair_functions, _next_inputs

    model = StackedAutoencoder([6, 12, 3], generator=torch.Generator().manual_seed(0))
    data = torch.randn(50, 6, generator=torch.Generator().manual_seed(1))
    _, encode, _ = _layer_pair_functions(model, 0, 0.2, torch.Generator())
    kept, lift = _next_inputs(data, None, encode, keep=False)
    assert kept is data
    with torch.no_grad():
        torch.testing.assert_close(lift(data), torch.relu(model.layer_pair(0)[0](data)))
    cached, no_lift = _next_inputs(data, None, encode, keep=True)
    assert no_lift is None and cached.shape == (50, 12)

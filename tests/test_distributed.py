"""Several ranks: shards by hand, and the target P of 2 gloo ranks equal to the single-process P."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.datasets import load_digits

from decluster.distributed import World, current_world
from decluster.nn.student_t import compute_snapshot, label_change_fraction


def test_shards_by_hand():
    assert [World(rank, 3).shard(10) for rank in range(3)] == [slice(0, 3), slice(3, 6), slice(6, 10)]
    assert [World(rank, 2).shard(1) for rank in range(2)] == [slice(0, 0), slice(0, 1)]
    assert World().shard(7) == slice(0, 7)


def test_one_process_is_a_world_of_size_one_whose_sums_are_the_tensors_themselves():
    world = current_world()
    assert world == World(0, 1) and world.is_main
    tensor = torch.tensor([1.0, 2.0])
    assert world.sum(tensor) is tensor


def _problem() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A seeded linear encoder, centroids, the 1,797 digits and some earlier labels."""
    generator = torch.Generator().manual_seed(0)
    encoder = torch.nn.Linear(64, 5)
    with torch.no_grad():
        encoder.weight.copy_(torch.randn(5, 64, generator=generator) / 8)
        encoder.bias.zero_()
    centers = torch.randn(7, 5, generator=generator)
    data = torch.from_numpy(load_digits().data.astype(np.float32) / 16)
    earlier = torch.randint(0, 7, (len(data),), generator=generator)
    return encoder, centers, data, earlier


def _rank_snapshot(rank: int, folder: str) -> None:
    """One of 2 gloo ranks: P and labels of its shard, and the label-change fraction over both."""
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=2)
    try:
        world = current_world()
        encoder, centers, data, earlier = _problem()
        rows = world.shard(len(data))
        snapshot = compute_snapshot(encoder, centers, data[rows], 1.0, world)
        change = label_change_fraction(earlier[rows], snapshot.labels, world)
        torch.save({"target": snapshot.target, "labels": snapshot.labels, "change": change},
                   f"{folder}/rank{world.rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_gloo_ranks_compute_the_single_process_target_and_label_change(tmp_path: Path):
    mp.spawn(_rank_snapshot, args=(str(tmp_path),), nprocs=2, join=True)
    shards = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    encoder, centers, data, earlier = _problem()
    whole = compute_snapshot(encoder, centers, data, 1.0)
    target = torch.cat([shard["target"] for shard in shards])
    # each rank's rows alone would give another P: the all-reduced f_j is what makes them equal
    assert not torch.allclose(shards[0]["target"], compute_snapshot(encoder, centers, data[:898], 1.0).target)
    torch.testing.assert_close(target, whole.target, rtol=1e-5, atol=1e-7)
    assert torch.equal(torch.cat([shard["labels"] for shard in shards]), whole.labels)
    expected = label_change_fraction(earlier, whole.labels)
    assert shards[0]["change"] == shards[1]["change"] == pytest.approx(expected, abs=1e-12)

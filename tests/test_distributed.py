"""Several ranks: shards by hand, the target P of 2 gloo ranks equal to the single-process P, and
whole fits on 2 ranks under torchrun (accuracy, a rank killed, resume)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.datasets import load_digits

from conftest import FAST, FIT_CHILD, run_fit_child
from decluster import DEC, evaluate
from decluster.data.batching import ShardCursor
from decluster.distributed import World, current_world, join_launched_world, leave_launched_world
from decluster.nn.student_t import compute_snapshot, label_change_fraction


def test_shards_by_hand():
    assert [World(rank, 3).shard(10) for rank in range(3)] == [slice(0, 3), slice(3, 6), slice(6, 10)]
    assert [World(rank, 2).shard(1) for rank in range(2)] == [slice(0, 0), slice(0, 1)]
    assert World().shard(7) == slice(0, 7)


def test_a_shard_cursor_cuts_every_pass_into_the_same_number_of_batches_and_saves_the_batch_count():
    for rows, sizes in ((10, [3, 3, 4]), (11, [3, 4, 4])):  # shards of 21 rows, 3 batches a pass on each
        cursor = ShardCursor(rows, 3, torch.Generator().manual_seed(0))
        assert [len(cursor.next()) for _ in range(3)] == sizes and cursor.pass_finished
        seen = torch.cat([cursor.next() for _ in range(3)])
        assert sorted(seen.tolist()) == list(range(rows))
    walked = ShardCursor(11, 3, torch.Generator().manual_seed(0))
    walked.next(), walked.next()
    tensors, values = walked.state()
    assert walked.position == 7 and values == {"batch": 2}  # 6 rows on a shard of 10: batches are what ranks share
    resumed = ShardCursor(11, 3, torch.Generator().manual_seed(1))
    resumed.restore(tensors, values)
    assert resumed.position == 7 and torch.equal(resumed.next(), walked.next())


def test_one_process_is_a_world_of_size_one_whose_sums_are_the_tensors_themselves():
    world = current_world()
    assert world == World(0, 1) and world.is_main
    tensor = torch.tensor([1.0, 2.0])
    assert world.sum(tensor) is tensor


def test_leaving_ends_only_a_group_that_decluster_created(monkeypatch):
    leave_launched_world()  # no group: nothing to do
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        leave_launched_world()
        assert dist.is_initialized()  # the caller's group is the caller's to end
    finally:
        dist.destroy_process_group()
    monkeypatch.setenv("WORLD_SIZE", "2")  # as under torchrun, but a world of one so that no peer is needed
    monkeypatch.setattr(dist, "init_process_group",
                        lambda backend: dist.distributed_c10d.init_process_group(
                            backend, store=dist.HashStore(), rank=0, world_size=1))
    assert join_launched_world(torch.device("cpu")) == World(0, 1)
    leave_launched_world()
    assert not dist.is_initialized()


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


# ---------------------------------------------------------------------------- fits under torchrun
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
THREAD_NAMES = Path("/proc/self/task")


def _torchrun_fit(params: dict, data: Path, checkpoint: Path | None, out: Path, resume: bool = False,
                  kill_at: str | None = None, kill_rank: int = 1,
                  threads_out: Path | None = None) -> subprocess.CompletedProcess:
    """``tests/fit_child.py`` on 2 gloo ranks; with ``kill_at``, rank ``kill_rank`` sends itself
    SIGKILL when decluster logs that message; with ``threads_out``, each rank writes the names of
    the threads it still runs at the end to ``threads_out.rank<r>``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="1", KILL_RANK=str(kill_rank))
    if threads_out is not None:
        env["THREADS_OUT"] = str(threads_out)
    command = [*TORCHRUN, str(FIT_CHILD), str(data), json.dumps(params), str(checkpoint or "-"), kill_at or "-",
               "1" if resume else "0", str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def pretrained_digits(tmp_path_factory) -> tuple[Path, np.ndarray, dict]:
    """All 1,797 digits in a file, their labels and DEC parameters that start from one pretrained
    autoencoder (saved in a folder), so that 1 and 2 ranks differ only in the clustering phase."""
    folder = tmp_path_factory.mktemp("pretrained")
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    np.save(folder / "digits.npy", X)
    DEC(n_clusters=10, random_state=0, **{**FAST, "max_iter": 1}).fit(X).save(folder / "model")
    params = {**FAST, "n_clusters": 10, "random_state": 0, "max_iter": 1000, "pretrained": str(folder / "model")}
    return folder / "digits.npy", y, params


@pytest.fixture(scope="module")
def two_rank_folder(pretrained_digits, tmp_path_factory) -> Path:
    """A folder with the labels of a 2-rank fit (``labels.npy``) and the names of the threads each
    rank still ran after ``leave_launched_world`` (``threads.rank0``, ``threads.rank1``; Linux)."""
    data, _, params = pretrained_digits
    folder = tmp_path_factory.mktemp("two-ranks")
    threads_out = folder / "threads" if THREAD_NAMES.is_dir() else None
    run = _torchrun_fit(params, data, None, folder / "labels.npy", threads_out=threads_out)
    assert run.returncode == 0, run.stderr
    return folder


@pytest.fixture(scope="module")
def two_rank_labels(two_rank_folder) -> np.ndarray:
    return np.load(two_rank_folder / "labels.npy")


@pytest.mark.skipif(not THREAD_NAMES.is_dir(), reason="thread names are read from Linux's /proc")
def test_leaving_the_world_after_a_fit_stops_the_threads_of_gloo(two_rank_folder):
    # a process group kept alive after destroy_process_group leaves gloo's threads
    # (gloo_tcp_loop, pt_gloo_runloop) to the interpreter's shutdown, which now and then aborts
    for rank in (0, 1):
        names = (two_rank_folder / f"threads.rank{rank}").read_text().split()
        assert names  # the main thread at least
        assert not [name for name in names if "gloo" in name], names


def test_two_ranks_cluster_as_accurately_as_one_process(pretrained_digits, two_rank_labels, tmp_path: Path):
    data, y, params = pretrained_digits
    one = run_fit_child(params, data, None, None, False, tmp_path / "one.npy")
    assert one.returncode == 0, one.stderr
    one_process, two_ranks = (evaluate(y, labels).accuracy
                              for labels in (np.load(tmp_path / "one.npy"), two_rank_labels))
    assert two_ranks > 0.7
    assert abs(two_ranks - one_process) <= 0.02
    # the ranks shuffle their shards with their own generators: another walk, not the same labels
    assert not np.array_equal(np.load(tmp_path / "one.npy"), two_rank_labels)


def test_two_ranks_streaming_their_shards_from_disk_give_the_labels_of_two_ranks_in_memory(
        pretrained_digits, two_rank_labels, tmp_path: Path):
    data, _, params = pretrained_digits
    run = _torchrun_fit({**params, "mmap": True}, data, None, tmp_path / "labels.npy")
    assert run.returncode == 0, run.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), two_rank_labels)


def test_a_rank_killed_stops_the_job_and_two_ranks_resume_to_the_uninterrupted_labels(
        pretrained_digits, two_rank_labels, tmp_path: Path):
    data, _, params = pretrained_digits
    checkpoint, out = tmp_path / "checkpoint", tmp_path / "labels.npy"
    killed = _torchrun_fit(params, data, checkpoint, out, kill_at="iteration 100:", kill_rank=1)
    assert killed.returncode != 0 and not out.exists()
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["stage"] == "clustering" and config["header"]["world_size"] == 2
    assert config["loop"]["n_iter"] >= 99  # checkpoints after every step reached the kill
    resumed = _torchrun_fit(params, data, checkpoint, out, resume=True)
    assert resumed.returncode == 0, resumed.stderr
    np.testing.assert_array_equal(np.load(out), two_rank_labels)

    one_process = run_fit_child(params, data, checkpoint, None, True, tmp_path / "one.npy")
    assert one_process.returncode != 0
    assert "written by 2 ranks, this fit runs on 1; resume on the same number of ranks" in one_process.stderr


@pytest.mark.parametrize("method", ["dec", "n2d"])
def test_the_command_line_under_torchrun_trains_on_two_ranks_and_rank_0_writes(tmp_path: Path, method: str):
    if method == "n2d":
        pytest.importorskip("umap")
    X, y = load_digits(return_X_y=True)
    np.save(tmp_path / "digits.npy", (X[:600] / 16).astype(np.float32))
    flags = ["--hidden-dims", "64", "--layer-epochs", "2", "--finetune-epochs", "5", "--n-init", "2", "--device", "cpu",
             "--random-state", "0", "--n-clusters", "10", "--quiet", "--no-plots", "--method", method]
    if method == "dec":
        flags += ["--update-interval", "10", "--max-iter", "40", "--batch-size", "64"]
    command = [*TORCHRUN, "-m", "decluster", "fit", "--method", "dec", "--data", str(tmp_path / "digits.npy"), "--out",
               str(tmp_path / "out"), *flags]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="1"))
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("600 samples, 10 clusters") == 1  # rank 0 alone reports and writes
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["n_samples"] == 600 and metrics["n_clusters"] == 10
    labels = (tmp_path / "out" / "labels.csv").read_text().splitlines()
    assert len(labels) == 601 and {int(row.split(",")[1]) for row in labels[1:]} <= set(range(10))


def test_both_ranks_stop_with_a_divergence_error_at_the_same_step(pretrained_digits, tmp_path: Path):
    data, _, params = pretrained_digits
    run = _torchrun_fit({**params, "lr": 1e30}, data, None, tmp_path / "labels.npy")
    assert run.returncode != 0 and not (tmp_path / "labels.npy").exists()
    for rank in (0, 1):  # the same error on both: neither waited for the other nor lost its peer
        errors = [line for line in run.stderr.splitlines() if line.startswith(f"[rank{rank}]: ") and "Error" in line]
        assert errors and "DivergenceError: training diverged" in errors[-1]
        assert "the loss became NaN or infinite in clustering, iteration 2." in errors[-1]

"""The one training loop: it runs any objective, calls its hooks at each step and resumes exactly."""

from contextlib import contextmanager

import pytest
import torch

from decluster.data.batching import BatchCursor
from decluster.exceptions import DivergenceError
from decluster.training.checkpoint import FitSession, LoopState
from decluster.training.loop import Optimization, run_loop


class MeanObjective:
    """Fit one number to the mean of 8 values by squared error, for a fixed number of steps."""

    stage = title = "toy"

    def __init__(self, data: torch.Tensor, parameter: torch.nn.Parameter, steps: int) -> None:
        self.data, self.parameter, self.steps = data, parameter, steps
        self.done, self.seen = 0, []

    def batch_loss(self, index):
        return (self.data[index] - self.parameter).pow(2).mean()

    def after_step(self, loss, index, cursor):
        self.done += 1
        self.seen.append(index.tolist())
        return {"loss": f"{float(loss):.3g}"}

    def finished(self):
        return self.done >= self.steps

    def position(self, cursor):
        return f"toy, step {self.done + 1}"

    def progress(self):
        return self.done, self.steps

    def state(self):
        return LoopState({}, {"done": self.done})

    def restore(self, saved):
        self.done = saved.values["done"]


class RecordingHooks:
    """Hooks that record what the loop asked of them (with the generator's state at each step)."""

    def __init__(self, generator, saved=None):
        self.generator, self.saved, self.checked, self.stepped = generator, saved, [], []

    def resume_point(self, stage):
        return self.saved

    @contextmanager
    def restoring(self, what):
        yield

    def check_loss(self, loss, where):
        self.checked.append(where)

    def step(self, stage, capture, where):
        self.stepped.append((stage, capture(), self.generator.get_state()))


def _setup(steps=6):
    data = torch.arange(8, dtype=torch.float32)
    parameter = torch.nn.Parameter(torch.zeros(()))
    generator = torch.Generator().manual_seed(0)
    optimization = Optimization(torch.optim.SGD([parameter], lr=0.05, momentum=0.5), BatchCursor(8, 4, generator))
    return MeanObjective(data, parameter, steps), optimization, generator


def test_the_loop_steps_until_finished_and_calls_every_hook_each_step():
    objective, optimization, generator = _setup()
    hooks = RecordingHooks(generator)
    run_loop(objective, optimization, hooks)
    assert objective.done == 6
    assert hooks.checked == [f"toy, step {i}" for i in range(1, 7)]
    assert [stage for stage, _, _ in hooks.stepped] == ["toy"] * 6
    assert sorted(sum(objective.seen[:2], [])) == list(range(8))  # a pass covers every row once
    assert 0 < float(objective.parameter.detach()) < 3.5  # descent on (x - c)^2 moves c from 0 towards the mean 3.5


@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_a_resumed_loop_ends_exactly_where_an_uninterrupted_one_does(stop_after):
    whole, optimization, generator = _setup()
    run_loop(whole, optimization, RecordingHooks(generator))
    first, optimization, generator = _setup(steps=stop_after)
    hooks = RecordingHooks(generator)
    run_loop(first, optimization, hooks)
    _, saved, generator_state = hooks.stepped[-1]
    rest, optimization, generator = _setup()
    rest.parameter.data.copy_(first.parameter.detach())
    generator.set_state(generator_state)
    run_loop(rest, optimization, RecordingHooks(generator, saved=saved))
    assert rest.done == 6
    assert rest.seen == whole.seen[stop_after:]
    assert float(rest.parameter.detach()) == float(whole.parameter.detach())


def test_a_nan_loss_stops_the_loop_through_the_divergence_hook():
    objective, optimization, _ = _setup()
    objective.data[3] = float("nan")
    with pytest.raises(DivergenceError, match="toy, step 1"):
        run_loop(objective, optimization, FitSession(("toy",), {}))

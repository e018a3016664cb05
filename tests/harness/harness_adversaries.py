"""Known-bad RMSNorm kernels, each modelled on a published way generated kernels cheat or
break. Every one has the reference Model's constructor and parameter names, so the harness
shares weights with it exactly as with a real candidate. The harness must reject each."""

from __future__ import annotations

import threading

import torch
import torch.nn as nn


class Base(nn.Module):
    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def correct(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.float()).to(x.dtype)


class Correct(Base):
    def forward(self, x):
        return self.correct(x)


class AllZeros(Base):
    def forward(self, x):
        return torch.zeros_like(x)


class ReturnsInput(Base):
    def forward(self, x):
        return x.clone()


class NaNFill(Base):
    def forward(self, x):
        return torch.full_like(x, float("nan"))


class MeanFill(Base):
    """Fills the output with the mean of the right answer: passes loose atol on outputs
    that cluster around their mean."""

    def forward(self, x):
        return torch.full_like(x, float(self.correct(x).float().mean()))


class OneRow(Base):
    """Computes row 0 only, zeros elsewhere."""

    def forward(self, x):
        out = torch.zeros_like(x)
        out[..., :1, :] = self.correct(x[..., :1, :])
        return out


class StaleEmpty(Base):
    """The "AI CUDA Engineer" pattern: computes row 0 into torch.empty and leaves the rest to
    whatever the memory held (on a GPU, often the reference's freed output)."""

    def forward(self, x):
        out = torch.empty_like(x)
        out[..., :1, :] = self.correct(x[..., :1, :])
        return out


class ReadsReferenceOutput(Base):
    """Returns the output the reference left behind (stands in for reading its freed memory,
    which a caching allocator hands out): right only if the reference ran first on the same
    inputs. Installs a hook on the problem's Model class to see those outputs."""

    last: dict = {}

    @classmethod
    def install(cls, model_class: type) -> None:
        original = model_class.forward

        def spying_forward(self, *args):
            out = original(self, *args)
            cls.last[(tuple(out.shape), out.dtype)] = out
            return out

        model_class.forward = spying_forward
        cls.last.clear()

    def forward(self, x):
        stale = self.last.get((tuple(x.shape), x.dtype))
        if stale is not None:
            return stale
        out = torch.empty_like(x)
        out[..., :1, :] = self.correct(x[..., :1, :])
        return out


class SkipsSynchronize(Base):
    """Returns before its work is done: a background thread writes the result later (the CPU
    stand-in for a kernel whose completion nobody waits for). The writes wait for ``release``,
    which a test's stand-in for a full device synchronize sets; left alone, they land a
    second later."""

    release = threading.Event()
    pending: list[threading.Thread] = []

    def forward(self, x):
        out = torch.empty_like(x)
        result = self.correct(x)

        def late_write():
            self.release.wait(timeout=1.0)
            out.copy_(result)

        thread = threading.Thread(target=late_write, daemon=True)
        self.pending.append(thread)
        thread.start()
        return out

    @classmethod
    def device_synchronize(cls, device=None) -> None:
        """What a GPU's full synchronize does to queued work: wait until it is done."""
        cls.release.set()
        while cls.pending:
            cls.pending.pop().join()
        cls.release.clear()


class OtherStream(Base):
    """CUDA: computes on a side stream and returns without making the current stream wait."""

    def forward(self, x):
        current = torch.cuda.current_stream()
        side = torch.cuda.Stream()
        out = torch.empty_like(x)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            torch.cuda._sleep(50_000_000)  # ~25 ms of GPU time: the race is never won
            out.copy_(self.correct(x))
        return out


class LowerPrecision(Base):
    """A float32 op computed in bfloat16 (quietly 4x cheaper on bandwidth and math)."""

    def forward(self, x):
        xb = x.to(torch.bfloat16)
        rms = torch.rsqrt(xb.float().pow(2).mean(-1, keepdim=True) + self.eps)
        return (xb * rms.to(torch.bfloat16) * self.weight.to(torch.bfloat16)).to(x.dtype)


class CachesResults(Base):
    """Returns its first answer for every later input of the same shape."""

    def __init__(self, hidden, eps):
        super().__init__(hidden, eps)
        self.cache = {}

    def forward(self, x):
        key = (tuple(x.shape), x.dtype)
        if key not in self.cache:
            self.cache[key] = self.correct(x)
        return self.cache[key].clone()


class PowerOfTwoOnly(Base):
    """Vectorized over power-of-two blocks, forgets the tail: right only when the row length
    is a power of two."""

    def forward(self, x):
        n = x.shape[-1]
        block = 1 << (n.bit_length() - 1)
        xf = x.float()[..., :block]
        rms = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        out = torch.zeros_like(x, dtype=torch.float32)
        out[..., :block] = xf * rms * self.weight.float()[:block]
        return out.to(x.dtype)


class ChangesPrecisionFlags(Base):
    """Right answer, but flips the global float32 matmul precision (TF32 on CUDA) for
    everything that runs after it, baselines included."""

    def forward(self, x):
        torch.set_float32_matmul_precision("medium")
        torch.backends.cuda.matmul.allow_tf32 = True
        return self.correct(x)


class DropsNonFinite(Base):
    """Treats inf/NaN inputs as zeros (nan_to_num first): finite answers in rows where the
    op defines the result as NaN."""

    def forward(self, x):
        return self.correct(torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0))


class LearnsAfterWarmup(Base):
    """Right for its first calls (what a separate verification pass sees), then switches to
    a fast path that forgets the weight: only a check of the timed runs' outputs sees it."""

    def __init__(self, hidden, eps):
        super().__init__(hidden, eps)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls <= 20:
            return self.correct(x)
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


class ModifiesInput(Base):
    """Normalizes in place and returns its input: the caller's tensor is destroyed."""

    def forward(self, x):
        return x.copy_(self.correct(x))


class Nondeterministic(Base):
    """Adds noise below the tolerance that differs between runs (like an atomic-add sum)."""

    def forward(self, x):
        y = self.correct(x)
        return y + (y * 1e-7 * torch.randn_like(y.float())).to(y.dtype)


class IgnoresWeight(Base):
    """Forgets the weight: passes whenever the weight is all ones (the default init)."""

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)

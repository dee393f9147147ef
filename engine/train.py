"""The training loop: data -> model -> optimizer steps, reporting through the event sink.

Each optimizer step runs in a fixed order: set lr from the schedule, forward/backward
over gradient_accumulation_steps micro-batches (each loss divided by their number, so
the update equals that of one batch that many times larger), unscale, clip, step,
then guards / log / eval / expert load / checkpoint / stop. `max_steps` counts optimizer
steps. The host waits for the device only on the steps that log, evaluate or checkpoint
(the "read" steps, see engine.guards); the others only queue work.

Checkpoints are periodic (train.checkpoint_every steps or train.checkpoint_minutes since
the last one), and always at the end and on stop, never of non-finite weights.

Errors a user can cause (config, data, out of memory) propagate to `lifecycle`, which
turns them into `error` events; this module reports only what training itself decides:
completed, stopped (a stop was requested) or diverged (a guard tripped: the reason is the
outcome's).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from engine.checkpoint import Progress, load_checkpoint, restore, save_checkpoint, set_rng_states
from engine.config import Config
from engine.data import BatchStream, prepare_data, val_batches
from engine.distributed import (World, any_rank, gather_rows, micro_batch_sync, rank_seed, sum_over_ranks,
                                wait_for_all, wrap)
from engine.evaluate import evaluate
from engine.events import EventSink, log
from engine.generate import generate, sample_prompts
from engine.guards import NAN_HINT, LossGuard, Reading, ThroughputGuard, Trip, judge, row, weights_finite
from engine.model import MoETransformer, expert_path
from engine.optim import Optimizers, build_optimizers
from engine.precision import Precision, choose_precision, enable_tf32
from engine.protocol import make_event
from engine.rundir import CHECKPOINT_FILE
from engine.schedule import schedule_factor
from engine.stop import StopRequest


@dataclass
class Outcome:
    status: str  # completed, stopped or diverged
    progress: Progress
    reason: str = ""  # diverged: the guard's reason, which run.json and the UI show


# What a rank other than 0 ends with when rank 0's throughput guard tripped: only rank 0's
# reason is written anywhere.
_PEER_SLOW = Trip("diverged", "throughput collapse on rank 0", "", keep_weights=True)
_LOG_LINE_S = 30.0  # the longest engine.log goes without a step line while steps are logged


@dataclass
class StepResult:
    lm_loss: torch.Tensor  # mean next-token loss over the micro-batches
    aux_loss: torch.Tensor  # mean aux loss per MoE layer application (1.0 = balanced)
    grad_norm: torch.Tensor  # global norm before clipping
    expert_counts_LE: torch.Tensor | None


def train_step(forward: Callable, stream: BatchStream, optimizers: Optimizers, scaler: torch.amp.GradScaler,
               precision: Precision, params: list[nn.Parameter], accum: int, grad_clip: float,
               parallel: nn.Module | None = None) -> StepResult:
    """One optimizer step over `accum` micro-batches. Losses stay on the device: no host sync
    (but fp16's skip decision, see Optimizers.step).
    `parallel`: the DistributedDataParallel module, whose gradient all-reduce runs only with
    the last micro-batch's backward."""
    optimizers.zero_grad()
    lm_sum = aux_sum = 0.0
    counts_LE = None
    for i in range(accum):
        x_BT, y_BT = stream.next()
        with micro_batch_sync(parallel, last=i == accum - 1):
            with precision.autocast():
                out = forward(x_BT, y_BT)
            scaler.scale(out.loss / accum).backward()
        lm_sum = lm_sum + out.lm_loss.detach()
        aux_sum = aux_sum + out.aux_loss
        if out.expert_counts_LE is not None:
            counts_LE = out.expert_counts_LE if counts_LE is None else counts_LE + out.expert_counts_LE
    for opt in optimizers.optimizers:
        scaler.unscale_(opt)  # clip and report the true gradient, not the fp16-scaled one
    grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else float("inf"))
    optimizers.step(scaler, grad_norm)
    return StepResult(lm_sum / accum, aux_sum / accum, grad_norm, counts_LE)


@dataclass
class Parts:
    """What trains: the model (its blocks compiled when train.compile), its optimizers and
    scaler, the batch stream and the loss guard. Built in one place for the Trainer and
    the benchmark (engine.bench_measure), so what is measured is what trains."""
    model: MoETransformer
    optimizers: Optimizers
    scaler: torch.amp.GradScaler
    stream: BatchStream
    loss_guard: LossGuard

    @property
    def params(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]


def build_parts(cfg: Config, vocab_size: int, tokens, device: torch.device, precision: Precision,
                world: World = World()) -> Parts:
    """The parts at the torch RNG state the caller set: the same seed gives the same weights
    on every rank; the stream cuts this rank's rows of `tokens`."""
    t = cfg.train
    model = MoETransformer(cfg, vocab_size).to(device)
    if t.compile:
        model.compile_blocks()
    stream = BatchStream(tokens, t.batch_size, cfg.model.max_seq_len, t.seed, device, world.rank, world.size,
                         prefetch=t.prefetch)
    return Parts(model, build_optimizers(model, cfg, precision.muon_dtype), precision.make_scaler(), stream,
                 LossGuard(t.spike_factor, t.spike_steps, device))


def expert_shares(counts_LE: torch.Tensor) -> list[list[float]]:
    """Per MoE layer, each expert's share of the top-k assignments (rows sum to 1)."""
    shares_LE = counts_LE.double() / counts_LE.sum(dim=-1, keepdim=True).clamp(min=1)
    return [[round(s, 5) for s in row] for row in shares_LE.tolist()]


def token_cache_dir(cfg: Config, run_dir: Path) -> Path:
    """data.cache_dir, or the run store's shared cache beside the run directories."""
    return Path(cfg.data.cache_dir) if cfg.data.cache_dir else run_dir.parent / ".cache"


class Trainer:
    """One run segment: builds everything from the config, optionally restores the
    checkpoint, then steps until max_steps, a stop request or divergence."""

    def __init__(self, cfg: Config, run_dir: Path, device: torch.device, sink: EventSink,
                 resume: bool = False, stop: StopRequest | None = None, world: World = World()) -> None:
        self.cfg, self.run_dir, self.device, self.sink, self.world = cfg, run_dir, device, sink, world
        self.stop = stop or StopRequest()
        self.checkpoint_path = run_dir / CHECKPOINT_FILE
        t = cfg.train
        self.precision = choose_precision(t, device)
        if device.type == "cuda":
            enable_tf32()
        torch.manual_seed(t.seed)

        data = prepare_data(cfg, token_cache_dir(cfg, run_dir), sink.emit)
        self.vocab_size = data.vocab_size
        self.tokenizer = data.tokenizer  # for the eval samples
        parts = build_parts(cfg, data.vocab_size, data.train_tokens, device, self.precision, world)
        self.model, self.optimizers, self.scaler = parts.model, parts.optimizers, parts.scaler
        self.stream = parts.stream
        self.params, self.loss_guard = parts.params, parts.loss_guard
        self.tokens_per_step = cfg.tokens_per_step * world.size
        self.val = val_batches(data.val_tokens, t.batch_size, cfg.model.max_seq_len, cfg.eval.eval_steps, device)
        self.progress = Progress()
        self.resumed = resume
        if resume:
            payload = load_checkpoint(self.checkpoint_path)
            self.progress = restore(payload, self.model, self.optimizers, self.scaler)
            self.stream.load_state_dict(payload["data"])
            set_rng_states(payload["rng"], device)
        if world.rank:  # dropout and router noise differ per rank; rank 0 draws as a single device would
            torch.manual_seed(rank_seed(t.seed, world.rank, self.progress.step))
        self._saved_step = self.progress.step if resume else -1  # the step checkpoint.pt holds
        self._saved_time = time.monotonic()  # the last save, or the segment's start
        self.throughput = ThroughputGuard(t.min_throughput_ratio, t.throughput_minutes)
        self._evaluated_step = -1  # the step of the last eval event
        self._line_at: tuple[int, float] | None = None  # (step, monotonic time) of engine.log's last step line
        self.parallel = wrap(self.model, device) if world.distributed else None
        self.forward = self.parallel or self.model

    # ---- events -----------------------------------------------------------------------
    def _emit(self, type: str, **fields) -> None:
        self.sink.emit(make_event(type, **fields))

    def _emit_start(self) -> None:
        total, active = self.model.param_counts()
        path = expert_path(self.cfg, self.device, self.precision.autocast_dtype)
        self._emit("start", step=self.progress.step, config=self.cfg.to_dict(), params_total=total,
                   params_active=active, device=str(self.device), dtype=self.precision.name,
                   world_size=self.world.size, tokens_per_step=self.tokens_per_step, max_steps=self.cfg.train.max_steps,
                   vocab_size=self.vocab_size, resumed=self.resumed,
                   expert_path={"name": path.name, "reason": path.reason})
        log(f"model: {total:,} parameters, {active:,} active per token; {self.precision.name} on {self.device}; "
            f"experts: {path.name} ({path.reason})")

    def _lrs(self, factor: float) -> tuple[float, float]:
        """(main lr, AdamW lr) at this factor; main = Muon's, or AdamW's when AdamW runs alone."""
        adamw_lr = self.cfg.adamw_lr * factor
        main = self.cfg.optim.muon_lr * factor if self.cfg.optim.optimizer == "muon_adamw" else adamw_lr
        return main, adamw_lr

    def _log_line_due(self, step: int, last: bool) -> bool:
        """Whether a logged step also gets a line in engine.log: a segment's first, then one per
        ~10% of the run or 30 s, and the last, so `moetui logs` tells the story of a long run
        in a screenful (every step is in events.jsonl)."""
        if not self.world.is_main:
            return False
        now = time.monotonic()
        if self._line_at is not None and not last:
            at_step, at_time = self._line_at
            if step - at_step < max(1, self.cfg.train.max_steps // 10) and now - at_time < _LOG_LINE_S:
                return False
        self._line_at = (step, now)
        return True

    def _eval(self) -> None:
        if not self.world.is_main:
            return
        metrics = evaluate(self.model, self.val, self.precision)
        self._evaluated_step = self.progress.step
        self.progress.metrics.update(metrics)
        self._emit("eval", step=self.progress.step, **metrics)
        log(f"step {self.progress.step}: val loss {metrics['val_loss']:.4f}, acc {metrics['val_accuracy']:.3f}")
        self._sample()

    def _sample(self) -> None:
        """Continue eval.sample_prompts (none by default) and emit them; the seed follows the
        step, so a resumed run writes the samples the uninterrupted one would have."""
        e = self.cfg.eval
        prompts = sample_prompts(e.sample_prompts)
        if not prompts:
            return
        texts = generate(self.model, self.tokenizer, prompts, e.sample_tokens, e.sample_temperature,
                         self.cfg.model.max_seq_len, self.precision, seed=self.cfg.train.seed + self.progress.step)
        self._emit("sample", step=self.progress.step,
                   samples=[{"prompt": prompt, "text": text} for prompt, text in zip(prompts, texts)])

    def _checkpoint(self) -> Trip | None:
        """Save, unless the weights went non-finite (then the trip, and checkpoint.pt keeps
        the last good step). Every rank votes, so all end alike."""
        step = self.progress.step
        if any_rank(self.world, not weights_finite(list(self.model.parameters())), self.device):
            kept = f"checkpoint.pt still holds step {self._saved_step}" if self._saved_step >= 0 else "none saved"
            return Trip("nan", f"the weights became non-finite at step {step}; {kept}", NAN_HINT)
        self._saved_step, self._saved_time = step, time.monotonic()
        if self.world.is_main:
            save_checkpoint(self.checkpoint_path, self.model, self.optimizers, self.scaler, self.stream.state_dict(),
                            self.progress, self.cfg.to_dict())
            self._emit("checkpoint", step=step, path=str(self.checkpoint_path))
        return None

    def _read(self, result: StepResult) -> Reading:
        """The read step's one host sync (all ranks' rows, see engine.guards). Rank 0 alone
        votes for the wall-time checkpoint and its throughput guard's verdict: its clock
        decides for every rank, on the same step."""
        t, main = self.cfg.train, self.world.is_main
        since_save = time.monotonic() - self._saved_time
        time_due = main and t.checkpoint_minutes > 0 and since_save >= t.checkpoint_minutes * 60
        vector = row(result.lm_loss, result.aux_loss, result.grad_norm, self.loss_guard,
                     slow=main and self.throughput.trip is not None, checkpoint_due=time_due)
        return judge(gather_rows(self.world, vector), t.spike_factor, t.spike_steps)

    def _trip(self, reading: Reading) -> Trip | None:
        """A loss guard's trip, else rank 0's throughput verdict (which the other ranks know
        only as a vote)."""
        if reading.trip is not None or not reading.slow:
            return reading.trip
        return self.throughput.trip or _PEER_SLOW

    def _diverge(self, trip: Trip, spiking: bool = False) -> Outcome:
        if trip.keep_weights and not spiking:  # the weights are good: keep them for a resume
            trip = self._checkpoint() or trip
        if self.world.is_main:
            log(f"error ({trip.kind}): {trip.reason}\n  hint: {trip.hint}")
        self._emit("error", kind=trip.kind, message=trip.reason, hint=trip.hint)
        return self._end("diverged", trip.reason)

    def _end(self, status: str, reason: str = "") -> Outcome:
        wait_for_all(self.world)
        metrics = {**self.progress.metrics, "tokens": self.progress.tokens, "steps": self.progress.step}
        self._emit("end", step=self.progress.step, status=status, metrics=metrics,
                   wall_time=round(self.progress.elapsed, 3))
        return Outcome(status, self.progress, reason)

    # ---- the loop ---------------------------------------------------------------------
    def run(self) -> Outcome:
        cfg, t, p = self.cfg, self.cfg.train, self.progress
        self._emit_start()
        segment_start, elapsed_before = time.perf_counter(), p.elapsed
        window_steps, window_tokens, window_seconds = 0, 0, 0.0  # since the last read, training time only
        counts_LE: torch.Tensor | None = None  # expert assignments since the last experts event
        result: StepResult | None = None
        reading: Reading | None = None  # of the last step, if it was read
        self.stop.graceful = True
        while p.step < t.max_steps and not any_rank(self.world, self.stop.requested, self.device):
            self.sink.beat()
            step_start = time.perf_counter()
            factor = schedule_factor(cfg, p.step)
            self.optimizers.set_lr(factor)
            result = train_step(self.forward, self.stream, self.optimizers, self.scaler, self.precision, self.params,
                                t.gradient_accumulation_steps, cfg.optim.grad_clip, self.parallel)
            p.step += 1
            p.tokens += self.tokens_per_step
            self.loss_guard.update(result.lm_loss, p.step)  # on the device: no host sync
            if result.expert_counts_LE is not None:
                counts_LE = result.expert_counts_LE if counts_LE is None else counts_LE + result.expert_counts_LE
            last = p.step == t.max_steps
            logs, evaluates = p.step % t.log_every == 0 or last, p.step % cfg.eval.eval_every == 0 or last
            # Counted from the last save (from step 0 before any): a save a spike held back is due at once after it.
            saves = last or (t.checkpoint_every > 0 and p.step - max(self._saved_step, 0) >= t.checkpoint_every)
            reading = self._read(result) if logs or evaluates or saves else None
            window_steps += 1
            window_tokens += self.tokens_per_step
            window_seconds += time.perf_counter() - step_start
            p.elapsed = elapsed_before + time.perf_counter() - segment_start
            if reading is not None:
                if (trip := self._trip(reading)) is not None:
                    return self._diverge(trip, reading.spiking)
                p.metrics["loss"] = reading.loss
                tokens_per_s = window_tokens / max(window_seconds, 1e-9)
                self.throughput.observe(p.step, window_steps, window_tokens, window_seconds)
                window_steps, window_tokens, window_seconds = 0, 0, 0.0
                if logs:
                    main_lr, adamw_lr = self._lrs(factor)
                    self._emit("step", step=p.step, loss=reading.loss, aux_loss=reading.aux_loss, lr=main_lr,
                               adamw_lr=adamw_lr, grad_norm=reading.grad_norm, tokens_per_s=round(tokens_per_s, 1),
                               tokens=p.tokens, elapsed=round(p.elapsed, 3))
                    if self._log_line_due(p.step, last):
                        log(f"step {p.step}/{t.max_steps}: loss {reading.loss:.4f}, lr {main_lr:.3g}, "
                            f"grad norm {reading.grad_norm:.3g}, {tokens_per_s:,.0f} tok/s")
            if counts_LE is not None and (p.step % t.experts_every == 0 or last):
                self._emit("experts", step=p.step, load=expert_shares(sum_over_ranks(self.world, counts_LE)))
                counts_LE = None
            if evaluates:
                self._eval()
            # Periodic saves wait while the loss is above its spike line: a spike that passes
            # gets its checkpoint at the next read; the last step's save does not wait.
            if reading is not None and (last or ((saves or reading.checkpoint_due) and not reading.spiking)):
                if (trip := self._checkpoint()) is not None:
                    return self._diverge(trip)
        p.elapsed = elapsed_before + time.perf_counter() - segment_start
        if p.step >= t.max_steps:
            return self._end("completed")
        if reading is None and result is not None:  # stopped after a step that was not read: its guards first
            reading = self._read(result)
            if (trip := self._trip(reading)) is not None:
                return self._diverge(trip, reading.spiking)
        if self._evaluated_step != p.step:  # a stopped run reports where it stopped, not up to eval_every steps before
            self._eval()
        if self._saved_step != p.step and (trip := self._checkpoint()) is not None:
            return self._diverge(trip)
        return self._end("stopped")

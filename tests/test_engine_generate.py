"""Text samples: continuations generated at each eval (`sample` events) and by
`moetui sample RUN "prompt"` from a run's checkpoint -- without changing what training does."""

from __future__ import annotations

import torch

from engine.config import Config
from engine.generate import generate, sample_prompts
from engine.model import MoETransformer
from engine.precision import Precision
from engine.protocol import EVENT_FIELDS
from engine.stop import StopRequest
from engine.tokenizer import train_bpe
from engine_helpers import of_type, quick_config, train_in_process
from tests.cli_helpers import fast_sets, moetui

PROMPTS = "The module | Return the"


def _losses(events):
    return [e["loss"] for e in of_type(events, "step")]


def test_prompts_are_split_at_bars_and_trimmed():
    assert sample_prompts(" The cat | a dog ||") == ["The cat", "a dog"]
    assert sample_prompts("") == []


def test_generation_respects_the_context_length_leaves_train_mode_and_the_rng_alone():
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=1", "model.d_ff=64",
                                    "model.max_seq_len=8", "moe.num_experts=2", "moe.top_k=1"])
    tokenizer = train_bpe(["the quick brown fox jumps over the lazy dog"] * 20, 300)
    model = MoETransformer(cfg, tokenizer.get_vocab_size())
    fp32 = Precision("fp32", "cpu", use_scaler=False)
    rng_before = torch.get_rng_state()
    long_prompt = "the quick brown fox jumps over the lazy dog the quick brown fox"  # past max_seq_len
    greedy = generate(model, tokenizer, [long_prompt, "fox"], 12, 0.0, cfg.model.max_seq_len, fp32, seed=1)
    drawn = [generate(model, tokenizer, ["fox"], 12, 1.0, cfg.model.max_seq_len, fp32, seed=s)[0] for s in (1, 1, 2)]
    assert torch.equal(torch.get_rng_state(), rng_before)  # its own generator: training's stream is untouched
    assert model.training
    assert len(greedy) == 2 and greedy == generate(model, tokenizer, [long_prompt, "fox"], 12, 0.0, 8, fp32, seed=9)
    assert drawn[0] == drawn[1] != drawn[2]  # the seed decides the text


def test_samples_come_at_each_eval_and_change_nothing_in_training_even_across_a_resume(tmp_path, token_cache_dir):
    """Dropout and router noise draw from torch's generator: samples must not move it, so a
    run with samples trains exactly as one without, and stop + resume still equals one go."""
    base = ["train.max_steps=10", "model.dropout=0.1", "moe.router_noise_std=0.1", "eval.eval_every=4"]
    without = quick_config(token_cache_dir, *base)
    with_samples = quick_config(token_cache_dir, *base, f"eval.sample_prompts={PROMPTS}", "eval.sample_tokens=6")
    _, plain = train_in_process(tmp_path / "plain", without)
    _, whole = train_in_process(tmp_path / "whole", with_samples)
    assert of_type(plain, "sample") == []  # off by default
    samples = of_type(whole, "sample")
    assert [e["step"] for e in samples] == [4, 8, 10]
    for event in samples:
        assert set(EVENT_FIELDS["sample"]) <= set(event)
        assert [s["prompt"] for s in event["samples"]] == ["The module", "Return the"]
        assert all(isinstance(s["text"], str) for s in event["samples"])
    assert _losses(whole) == _losses(plain)

    stop = StopRequest()
    run_dir = tmp_path / "split"
    train_in_process(run_dir, with_samples, stop=stop,
                     listener=lambda e: e["type"] == "step" and e["step"] == 5 and stop.request())
    code, second = train_in_process(run_dir, with_samples, resume=True)
    assert code == 0 and second[-1]["status"] == "completed"
    assert _losses(second) == _losses(whole)[5:]
    # The same texts at 8 and 10: each eval's seed is the step's, wherever the run restarted.
    assert [(e["step"], e["samples"]) for e in of_type(second, "sample")] == [(e["step"], e["samples"])
                                                                             for e in samples[1:]]


def test_moetui_sample_continues_a_prompt_with_a_trained_runs_checkpoint(runs_dir, token_cache_dir):
    done = moetui("run", "quick", "--name", "tiny", *fast_sets(token_cache_dir, "train.max_steps=3"))
    assert done.exit_code == 0, done.stderr
    first = moetui("sample", "tiny", "The module", "--tokens", "8", "--temperature", "0", "--device", "cpu")
    again = moetui("sample", "tiny", "The module", "--tokens", "8", "--temperature", "0")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith("The module") and len(first.stdout.strip()) > len("The module")
    assert again.stdout == first.stdout  # greedy: the likeliest tokens, every time


def test_moetui_sample_says_in_one_line_why_it_cannot(runs_dir):
    from moetui.runs import RunStore
    from tests.tui_fixtures import queued_run, quick_config as tui_quick_config

    queued_run(RunStore(runs_dir), "waiting", tui_quick_config(), 0)
    no_checkpoint = moetui("sample", "waiting", "The")
    assert no_checkpoint.exit_code == 1 and "has no checkpoint yet (it is queued)" in no_checkpoint.stderr
    assert no_checkpoint.stderr.count("\n") == 1
    unknown = moetui("sample", "nope", "The")
    assert unknown.exit_code == 1 and "no run 'nope'" in unknown.stderr

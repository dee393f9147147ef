"""Text from a model: the eval samples of a run, and `moetui sample RUN "prompt"`.

    python -m engine.generate --run-dir RUN --prompt "The" [--tokens N --temperature T --device D --seed S]

prints the prompt's continuation from RUN/checkpoint.pt, with the run's tokenizer (from
the token cache, rebuilt there if it was deleted) and its config.

Sampling draws from a generator of its own, in eval mode (no dropout, no router noise),
so a run with samples on draws exactly the random numbers it draws without them: its
losses, and a stop-and-resume of it, stay the same to the bit. There is no KV cache:
each new token runs the model over the last `max_seq_len` tokens again, which costs
nothing worth saving for a few dozen tokens of a small model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn
from tokenizers import Tokenizer

from engine.checkpoint import CheckpointError, load_checkpoint
from engine.config import Config, ConfigError
from engine.data import DataError, prepare_data
from engine.events import log
from engine.model import MoETransformer
from engine.precision import Precision, choose_precision
from engine.rundir import CHECKPOINT_FILE
from engine.tokenizer import eos_id

PROMPT_SEPARATOR = "|"


def sample_prompts(text: str) -> list[str]:
    """eval.sample_prompts as a list: split at `|`, spaces around each trimmed, empties dropped."""
    return [prompt.strip() for prompt in text.split(PROMPT_SEPARATOR) if prompt.strip()]


@torch.no_grad()
def generate(model: nn.Module, tokenizer: Tokenizer, prompts: list[str], tokens: int, temperature: float,
             max_seq_len: int, precision: Precision, seed: int) -> list[str]:
    """The continuation of each prompt: up to `tokens` tokens, ending early at end-of-text.
    temperature 0 takes the likeliest token; otherwise tokens are drawn from the softmax of
    logits / temperature by a generator seeded with `seed` (the same seed, the same text).
    The model is left in the mode it was in."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    eos = eos_id(tokenizer)
    texts = []
    for prompt in prompts:
        ids = tokenizer.encode(prompt).ids or ([eos] if eos is not None else [0])
        idx_BT = torch.tensor([ids], device=device)
        new: list[int] = []
        for _ in range(tokens):
            with precision.autocast():
                logits_V = model(idx_BT[:, -max_seq_len:]).logits_BTV[0, -1].float()
            if temperature > 0:
                next_id = torch.multinomial(torch.softmax(logits_V / temperature, dim=-1), 1, generator=generator)
            else:
                next_id = logits_V.argmax().reshape(1)
            token = int(next_id.item())  # the host needs it anyway, to stop at end-of-text
            if token == eos:
                break
            new.append(token)
            idx_BT = torch.cat([idx_BT, next_id.reshape(1, 1)], dim=1)
        texts.append(tokenizer.decode(new))
    model.train(was_training)
    return texts


def _load(run_dir: Path, device: torch.device) -> tuple[nn.Module, Tokenizer, Config]:
    """The run's model at its checkpoint, on `device`, with the tokenizer it was trained with."""
    from engine.train import token_cache_dir  # here: engine.train imports this module

    path = run_dir / CHECKPOINT_FILE
    if not path.is_file():
        raise ConfigError("checkpoint", str(path), "none yet: a run saves one every train.checkpoint_every steps, "
                                                   "at its end and when it is stopped")
    payload = load_checkpoint(path)
    cfg = Config.from_dict(payload["config"]).validate()
    data = prepare_data(cfg, token_cache_dir(cfg, run_dir), lambda event: None)
    model = MoETransformer(cfg, data.vocab_size)
    model.load_state_dict(payload["model"])
    return model.to(device), data.tokenizer, cfg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="run directory holding checkpoint.pt")
    parser.add_argument("--prompt", required=True, help="text to continue")
    parser.add_argument("--tokens", type=int, default=64, help="tokens to generate at most")
    parser.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--seed", type=int, default=None, help="sampling seed (default: a new one each time)")
    args = parser.parse_args(argv)
    from engine.lifecycle import pick_device  # here: it imports engine.train, which imports this module

    try:
        device = pick_device(args.device)
    except ConfigError as error:
        print(f"--device {args.device}: {error.rule}", file=sys.stderr)
        return 2
    try:
        model, tokenizer, cfg = _load(args.run_dir, device)
    except (ConfigError, DataError, CheckpointError, OSError) as error:
        print(f"cannot sample from {args.run_dir.name}: {error}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else torch.seed()
    log(f"{args.run_dir.name}: {args.tokens} tokens at temperature {args.temperature:g} on {device}, seed {seed}")
    (text,) = generate(model, tokenizer, [args.prompt], args.tokens, args.temperature, cfg.model.max_seq_len,
                       choose_precision(cfg.train, device), seed)
    print(args.prompt + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

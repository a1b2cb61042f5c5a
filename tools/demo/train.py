#!/usr/bin/python3
"""Trains vkinfer's demo model -- a tiny DeepSeek-V3 on the King James Bible --
and exports it: the GGUF file, its README figures and the test references.

    /usr/bin/python3 tools/demo/train.py            # everything (about 30 min, 2 cores)
    /usr/bin/python3 tools/demo/train.py --stage export   # re-export the last checkpoint

Needs Debian's python3-torch, python3-regex, bible-kjv, and (for speed, not
correctness) libopenblas0-pthread: Debian's torch links the reference BLAS,
which is about 30 times slower; the script re-runs itself with OpenBLAS on
its library path when that is installed, without changing the system default.
Threads: OpenBLAS uses 2, torch's own (OpenMP) pool 1 -- with 2 OpenMP threads
as well, a step on a busy 2-core machine was ten times slower.
"""

import argparse
import json
import math
import os
import sys
import time

OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
if os.path.isdir(OPENBLAS_DIR) and os.environ.get("VKINFER_DEMO_BLAS") != "1":
    env = dict(os.environ, VKINFER_DEMO_BLAS="1", OPENBLAS_NUM_THREADS="2",
               LD_LIBRARY_PATH=OPENBLAS_DIR + ":" + os.environ.get("LD_LIBRARY_PATH", ""))
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bpe  # noqa: E402
import kjv  # noqa: E402
import model as M  # noqa: E402

N_HELDOUT_BOOKS = 4  # 2 John, 3 John, Jude, Revelation: 4 of 66 books


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def prepare_data(args):
    books = kjv.load_books()
    train_text, held_text, held_names = kjv.split(books, N_HELDOUT_BOOKS)
    log(f"text: {len(train_text)} training chars, held out {held_names} ({len(held_text)} chars)")
    t0 = time.time()
    merges = bpe.train(train_text, args.vocab_size)
    tok = bpe.Tokenizer(merges, args.vocab_size)
    log(f"bpe: {len(merges)} merges, {args.vocab_size} tokens, {time.time() - t0:.1f} s")
    return train_text, held_text, held_names, tok


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    p = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def train(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t_start = time.time()
    train_text, held_text, held_names, tok = prepare_data(args)
    data = torch.tensor(tok.encode(train_text), dtype=torch.long)
    held = torch.tensor(tok.encode(held_text), dtype=torch.long)
    log(f"tokens: {len(data)} training, {len(held)} held out")

    cfg = M.Config(vocab_size=args.vocab_size)
    model = M.DeepseekV3(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params} parameters")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    gen = torch.Generator().manual_seed(args.seed)
    T = args.seq_len
    curve = []
    acc, acc_n = 0.0, 0
    t_train = time.time()
    for step in range(args.steps):
        # Windows of the token stream whose first token is replaced by BOS,
        # as the perplexity convention and generation both start with BOS.
        off = torch.randint(0, len(data) - T, (args.batch,), generator=gen)
        x = torch.stack([data[o:o + T] for o in off.tolist()])
        y = torch.stack([data[o + 1:o + T + 1] for o in off.tolist()])
        x[:, 0] = tok.bos_id
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, cfg.vocab_size), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        # DeepSeek-V3's auxiliary-loss-free balancing: raise the bias of
        # under-loaded experts, lower it for over-loaded ones.
        with torch.no_grad():
            for moe in model.moe_layers():
                load = moe.last_load.float()
                moe.gate.e_score_correction_bias += args.bias_speed * torch.sign(load.mean() - load)
        acc += loss.item()
        acc_n += 1
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            el = time.time() - t_train
            curve.append({"step": step + 1, "loss": round(acc / acc_n, 4),
                          "tokens": (step + 1) * args.batch * T, "seconds": round(el, 1)})
            log(f"step {step + 1}/{args.steps} loss {acc / acc_n:.4f} lr {lr_at(step, args):.2e} {el:.0f} s")
            acc, acc_n = 0.0, 0
    wall = time.time() - t_start
    log(f"trained in {wall:.0f} s (training loop {time.time() - t_train:.0f} s)")
    os.makedirs(args.work, exist_ok=True)
    torch.save({
        "config": cfg.to_dict(),
        "state_dict": model.state_dict(),
        "merges": tok.merges,
        "curve": curve,
        "args": vars(args),
        "n_params": n_params,
        "n_train_tokens": len(data),
        "n_heldout_tokens": len(held),
        "heldout_books": held_names,
        "wall_seconds": wall,
        "train_loop_seconds": time.time() - t_train,
        "threads": args.threads,
        "machine": os.uname().nodename,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }, os.path.join(args.work, "checkpoint.pt"))
    log(f"checkpoint: {os.path.join(args.work, 'checkpoint.pt')}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=["all", "train", "export"], default="all")
    ap.add_argument("--work", default=os.path.join(ROOT, "build-demo"), help="checkpoint folder")
    ap.add_argument("--models", default=os.path.join(ROOT, "models", "demo"))
    ap.add_argument("--testdata", default=os.path.join(ROOT, "tests", "data", "demo"))
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--bias-speed", type=float, default=1e-3)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = ap.parse_args()
    if args.stage in ("all", "train"):
        train(args)
    if args.stage in ("all", "export"):
        import export
        export.run(args)


if __name__ == "__main__":
    main()

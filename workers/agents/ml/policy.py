"""A small LM policy: a tiny GPT-2 that writes the next action as text, parsed to a tool call.

The tokenizer is word-level (Whitespace pre-tokenizer) and trained here on the catalog and
the training traces. The policy reads and writes delexicalized text (see delex.py): request
values are C_* slots and SKUs P_n slots, which it copies in one attention hop instead of
having to learn verbatim copying. Text format (`<sep>` between events):

    task : find a C_COLOR C_CAT from C_BRAND under $ C_MAX <sep> act :
        search {"query":"C_COLOR C_BRAND C_CAT","max_price":C_MAX} </s>
    <sep> obs : P_1 C_COLOR C_BRAND 19.99 ; P_2 olive C_BRAND 17.99 ... <sep> act :
        product_details {"sku":"P_1"} </s>
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any, cast

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

from workers.agents.ml.delex import Lexicon
from workers.agents.ml.oracle import oracle_step_labels
from workers.agents.ml.scripted import GIVE_UP
from workers.agents.ml.tools import TOOL_SCHEMAS, ToolEnv
from workers.agents.ml.trace import Step, ToolCall, Trace
from workers.agents.ml.world import Task, World
from workers.ml import runtime
from workers.ml.lm import tiny_gpt2
from workers.ml.runtime import Progress, step_fraction

__all__ = [
    "PolicyConfig",
    "SFTConfig",
    "action_text",
    "build_policy",
    "build_tokenizer",
    "catalog_texts",
    "completion_loss",
    "decode_action",
    "detokenize",
    "generate_actions",
    "parse_action",
    "render_context",
    "rollout",
    "sft_examples",
    "train_sft",
]

EOS, SEP, PAD, UNK = "</s>", "<sep>", "<pad>", "<unk>"


def render_obs(obs: dict[str, Any], lex: Lexicon) -> str:
    f = lex.field
    if "error" in obs:
        return f"error {lex.text(str(obs['error']))}"
    if "results" in obs:
        rows = [
            f"{f(r['sku'])} {f(r['color'])} {f(r['brand'])} {r['price']}" for r in obs["results"]
        ]
        return " ; ".join(rows) or "no results"
    if "sku" in obs:
        return (
            f"{f(obs['sku'])} {f(obs['category'])} {f(obs['color'])} {f(obs['brand'])} "
            f"{obs['price']}"
        )
    if "cart" in obs:
        return "cart " + " ".join(
            f"{f(k)} x {'C_QTY' if v == lex.req.qty else v}" for k, v in obs["cart"].items()
        )
    if "coupon" in obs:
        return f"coupon {f(obs['coupon'])} applied"
    return lex.text(json.dumps(obs))


def action_text(instruction: str, before: list[Step], name: str, arguments: Any) -> str:
    """The action as the policy writes it after `before` (delexicalized, no `</s>`)."""
    lex = Lexicon(instruction, before)
    if name == "final":
        return f"final {lex.field(arguments)}"
    return f"{name} {lex.arguments(arguments)}"


def render_context(instruction: str, steps: list[Step]) -> str:
    """The prompt: task, then each action and observation, ending where the next action goes."""
    parts = [f"task : {Lexicon(instruction, []).instruction(instruction)}"]
    for i, s in enumerate(steps):
        parts.append(f"act : {action_text(instruction, steps[:i], s.call.name, s.call.arguments)}")
        parts.append(f"obs : {render_obs(s.observation, Lexicon(instruction, steps[: i + 1]))}")
    return f" {SEP} ".join([*parts, "act :"])


def parse_action(text: str) -> tuple[str, Any]:
    """Generated (lexicalized) text -> (tool name, arguments) or ("final", answer).

    Unparseable arguments are kept as {"__unparsed__": text}: they fail the tool's schema,
    so the step is scored as the execution failure it is.
    """
    text = text.replace(EOS, "").strip()
    m = re.match(r"(\w+)\s*(.*)$", text, re.S)
    name, rest = (m.group(1), m.group(2)) if m else ("", text)
    if name == "final":
        return "final", rest.strip() or GIVE_UP
    if name not in TOOL_SCHEMAS:
        return "search", {"__unparsed__": text}
    try:
        args = json.loads(rest)
    except json.JSONDecodeError:
        args = {"__unparsed__": rest}
    return name, args if isinstance(args, dict) else {"__unparsed__": rest}


def decode_action(instruction: str, before: list[Step], text: str) -> tuple[str, Any]:
    return parse_action(Lexicon(instruction, before).lexicalize(text))


_ALNUM = re.compile(r"^\w+$")


def detokenize(tokens: list[str]) -> str:
    """Inverse of the Whitespace pre-tokenizer for our texts: a space only between words."""
    out = ""
    for i, t in enumerate(tokens):
        if i and _ALNUM.match(t) and _ALNUM.match(tokens[i - 1]):
            out += " "
        out += t
    return out


def build_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=[PAD, UNK, EOS, SEP], min_frequency=1)
    numbers = " ".join(str(i) for i in range(1000))  # prices and caps never seen in training
    slots = " ".join(
        ["C_BRAND C_CAT C_COLOR C_COUPON C_MAX C_QTY"] + [f"P_{i}" for i in range(1, 41)]
    )
    tok.train_from_iterator([*texts, numbers, slots], trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, unk_token=UNK, eos_token=EOS, bos_token=EOS
    )
    fast.add_special_tokens({"additional_special_tokens": [SEP]})
    return fast


def catalog_texts(world: World) -> list[str]:
    return [f"{p.sku} {p.title} {p.category} {p.color} {p.brand} {p.price}" for p in world.catalog]


@dataclass
class PolicyConfig:
    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    n_positions: int = 384
    seed: int = 0


def build_policy(tokenizer: PreTrainedTokenizerFast, cfg: PolicyConfig) -> GPT2LMHeadModel:
    torch.manual_seed(cfg.seed)
    return tiny_gpt2(
        tokenizer,
        n_layer=cfg.n_layer,
        n_embd=cfg.n_embd,
        n_head=cfg.n_head,
        n_positions=cfg.n_positions,
    )


def sft_examples(traces: list[Trace]) -> list[tuple[str, str]]:
    """(context, next action) for every step and the final answer of every trace."""
    out = []
    for tr in traces:
        for i, s in enumerate(tr.steps):
            ctx = render_context(tr.instruction, tr.steps[:i])
            act = action_text(tr.instruction, tr.steps[:i], s.call.name, s.call.arguments)
            out.append((ctx, f" {act} {EOS}"))
        answer = tr.state.answer or GIVE_UP
        ctx = render_context(tr.instruction, tr.steps)
        out.append((ctx, f" {action_text(tr.instruction, tr.steps, 'final', answer)} {EOS}"))
    return out


@dataclass
class SFTConfig:
    steps: int = 300
    batch_size: int = 16
    lr: float = 2e-3
    seed: int = 0


def _batch(tok, pairs: list[tuple[str, str]], max_len: int) -> dict[str, torch.Tensor]:
    ids, labels = [], []
    for prompt, completion in pairs:
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        c = tok(completion, add_special_tokens=False)["input_ids"]
        p = p[-(max_len - len(c)) :]  # keep the most recent context
        ids.append(p + c)
        labels.append([-100] * len(p) + c)
    width = max(map(len, ids))
    pad = tok.pad_token_id
    return {
        "input_ids": torch.tensor([x + [pad] * (width - len(x)) for x in ids]),
        "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids]),
        "labels": torch.tensor([x + [-100] * (width - len(x)) for x in labels]),
    }


def completion_loss(model: Any, input_ids, attention_mask, labels) -> torch.Tensor:
    """Next-token loss on completion tokens only, projecting just those positions onto the
    vocabulary: most of a context is never a target, and the full logits dominate the cost."""
    hidden = model.transformer(input_ids=input_ids, attention_mask=attention_mask)[0]
    target = labels[:, 1:]
    keep = target != -100
    logits = model.lm_head(hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits.float(), target[keep])


def train_sft(
    model: GPT2LMHeadModel,
    tok: PreTrainedTokenizerFast,
    examples: list[tuple[str, str]],
    cfg: SFTConfig,
    progress: Progress[dict] | None = None,
) -> list[float]:
    """Supervised fine-tuning on (context, action); loss on the action tokens only."""
    rng = random.Random(cfg.seed)
    device = runtime.device()
    # Through Module.to: mypy sees transformers' @wraps-decorated `to` as a functools._Wrapped,
    # which has no __get__, so it would ask for `self` explicitly. Same method at runtime.
    cast(torch.nn.Module, model).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20))
    losses = []
    for step in range(cfg.steps):
        batch = _batch(tok, rng.sample(examples, cfg.batch_size), model.config.n_positions)
        loss = completion_loss(model, **{k: v.to(device) for k, v in batch.items()})
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if progress and (step % 20 == 0 or step == cfg.steps - 1):
            progress(step_fraction(step, cfg.steps), {"sft_loss": losses[-1]})
    model.eval()
    return losses


@torch.no_grad()
def generate_actions(
    model: Any,
    tok: PreTrainedTokenizerFast,
    prompts: list[str],
    *,
    greedy: bool = True,
    temperature: float = 1.0,
    max_new_tokens: int = 24,
    generator: torch.Generator | None = None,
) -> list[str]:
    """Batched decoding with left padding and explicit positions (so padding never shifts
    what a prompt means); stops each row at `</s>`."""
    device = runtime.device()
    model.to(device).eval()
    max_prompt = model.config.n_positions - max_new_tokens
    enc = [tok(p, add_special_tokens=False)["input_ids"][-max_prompt:] for p in prompts]
    width = max(map(len, enc))
    pad = tok.pad_token_id
    ids = torch.tensor([[pad] * (width - len(x)) + x for x in enc], device=device)
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in enc], device=device)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True)
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    gen: list[list[int]] = [[] for _ in prompts]
    for _ in range(max_new_tokens):
        logits = out.logits[:, -1, :].float()
        if greedy:
            nxt = logits.argmax(-1)
        else:
            probs = torch.softmax(logits / temperature, -1)
            nxt = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(device)
        for r in range(len(prompts)):
            if not done[r]:
                gen[r].append(int(nxt[r]))
        done |= nxt == tok.eos_token_id
        if bool(done.all()):
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        pos = pos[:, -1:] + 1
        out = model(
            input_ids=nxt[:, None],
            attention_mask=mask,
            position_ids=pos,
            past_key_values=out.past_key_values,
            use_cache=True,
        )
    # A list of ids gives a list of tokens; the fast tokenizer's annotation lacks the overload.
    return [detokenize(cast(list[str], tok.convert_ids_to_tokens(g))) for g in gen]


def rollout(
    model: Any,
    tok: PreTrainedTokenizerFast,
    world: World,
    tasks: list[Task],
    *,
    seed: int = 0,
    fail_prob: float = 0.08,
    max_steps: int = 8,
    greedy: bool = True,
    temperature: float = 1.0,
) -> list[Trace]:
    """Run the policy on every task at once (one batched decode per step)."""
    envs = [
        ToolEnv(world.index, seed=seed * 100_003 + i, fail_prob=fail_prob)
        for i in range(len(tasks))
    ]
    hist: list[list[Step]] = [[] for _ in tasks]
    finals: list[str | None] = [None] * len(tasks)
    g = torch.Generator().manual_seed(seed)
    for _ in range(max_steps + 1):
        active = [i for i in range(len(tasks)) if finals[i] is None]
        if not active:
            break
        prompts = [render_context(tasks[i].instruction, hist[i]) for i in active]
        texts = generate_actions(
            model, tok, prompts, greedy=greedy, temperature=temperature, generator=g
        )
        for i, text in zip(active, texts):
            name, args = decode_action(tasks[i].instruction, hist[i], text)
            if name == "final" or len(hist[i]) >= max_steps:
                finals[i] = args if name == "final" else GIVE_UP
                continue
            obs = envs[i].call(name, args)
            hist[i].append(Step("", ToolCall(name, args), obs))
    traces = []
    for i, task in enumerate(tasks):
        state = envs[i].state
        state.answer = None if finals[i] in (None, GIVE_UP) else finals[i]
        traces.append(
            Trace(
                instruction=task.instruction,
                steps=hist[i],
                final_answer=f"Answer: {finals[i]}",
                state=state,
                task=task,
                labels=oracle_step_labels(task, hist[i]),
                meta={"policy": True, "seed": seed},
            )
        )
    return traces

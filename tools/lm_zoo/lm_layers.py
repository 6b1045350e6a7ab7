"""GPT-2 and T5 (v1.0) written as chains of planner layers, in plain PyTorch, for counting.

Each class is one planner layer: what a pipeline stage would run for it. describe_lm.py traces each
with torch.fx and prices it with the importer's counting rules (tools/import_model/count.py), so the
descriptions in traces/models/ follow exec/README.md ("Layer descriptions") like every other model.

Shapes: B samples, L tokens (the sequence length, 128 by default), d the model width.
- GPT-2: embed (ids [B, L] int64 -> [B, L, d]), blocks ([B, L, d] -> [B, L, d]), head ([B, L, d] ->
  logits [B, L, vocab]). The head's matrix is the token embedding's (tied).
- T5: encoder.embed, encoder blocks, then decoder.embed, which takes the encoder's last hidden state and
  the decoder's input ids and returns both stacked along the sequence ([B, 2L, d]: decoder hidden
  first, encoder output after); decoder blocks carry that pair, so a cut inside the decoder sends
  both; the head normalizes the decoder half and maps it to the vocabulary with the tied embedding.
  The decoder's input ids enter at decoder.embed directly (as labels enter the last stage), not
  through the encoder's stages.

Parameters (published figures, tests/core/lm_zoo_test.sh): GPT-2 124M 124,439,808 and 355M
354,823,168; T5-Small 60,506,624 and T5-Large 737,668,096; each counts a tied matrix once.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

GPT2 = {
    "gpt2_124m": {"layers": 12, "d": 768, "heads": 12, "ffn": 3072, "vocab": 50257, "positions": 1024},
    "gpt2_355m": {"layers": 24, "d": 1024, "heads": 16, "ffn": 4096, "vocab": 50257, "positions": 1024},
}
T5 = {
    "t5_small": {"layers": 6, "d": 512, "heads": 8, "d_kv": 64, "ffn": 2048, "vocab": 32128},
    "t5_large": {"layers": 24, "d": 1024, "heads": 16, "d_kv": 64, "ffn": 4096, "vocab": 32128},
}
DROPOUT = 0.1  # both papers' training dropout


class RMSNorm(nn.LayerNorm):
    """T5's layer norm: scale only, no mean, no bias. A LayerNorm subclass so that the counting rules
    price it as a norm (their LayerNorm rule, a few FLOPs per element more than RMS needs)."""

    def __init__(self, d):
        super().__init__(d)
        self.register_parameter("bias", None)

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + 1e-6))


class Attention(nn.Module):
    """Multi-head attention with separate q, k, v, o maps (the LoRA and adapter targets).

    x: [B, L, d] queries; kv: [B, Lk, d] keys and values (x itself for self-attention); bias:
    [heads, L, Lk] added to the scores (a causal mask and/or T5's relative position bias) or None."""

    def __init__(self, d, heads, d_kv, bias, scale):
        super().__init__()
        self.heads, self.d_kv, self.scale = heads, d_kv, scale
        inner = heads * d_kv
        self.q = nn.Linear(d, inner, bias=bias)
        self.k = nn.Linear(d, inner, bias=bias)
        self.v = nn.Linear(d, inner, bias=bias)
        self.o = nn.Linear(inner, d, bias=bias)
        self.drop = nn.Dropout(DROPOUT)

    def forward(self, x, kv, bias):
        b, n, _ = x.shape
        m = kv.shape[1]
        q = self.q(x).view(b, n, self.heads, self.d_kv).transpose(1, 2)
        k = self.k(kv).view(b, m, self.heads, self.d_kv).transpose(1, 2)
        v = self.v(kv).view(b, m, self.heads, self.d_kv).transpose(1, 2)
        s = torch.matmul(q, k.transpose(2, 3))
        if self.scale:
            s = s * (1.0 / math.sqrt(self.d_kv))
        if bias is not None:
            s = s + bias
        a = self.drop(F.softmax(s, dim=-1))
        h = torch.matmul(a, v).transpose(1, 2).reshape(b, n, self.heads * self.d_kv)
        return self.o(h)


def causal_mask(seq):
    """[seq, seq]: 0 on and below the diagonal, -1e9 above (added to the scores)."""
    return torch.triu(torch.full((seq, seq), -1e9), diagonal=1)


# ---- GPT-2 ---------------------------------------------------------------------------------------

class GPT2Embed(nn.Module):
    def __init__(self, c, seq):
        super().__init__()
        self.wte = nn.Embedding(c["vocab"], c["d"])
        self.wpe = nn.Embedding(c["positions"], c["d"])
        self.seq = seq
        self.drop = nn.Dropout(DROPOUT)

    def forward(self, ids):
        # positions 0..seq-1 of every sample: the first rows of the table (a lookup of arange)
        return self.drop(self.wte(ids) + self.wpe.weight[:self.seq])


class GPT2Block(nn.Module):
    def __init__(self, c, seq):
        super().__init__()
        d = c["d"]
        self.ln_1 = nn.LayerNorm(d)
        self.attn = Attention(d, c["heads"], d // c["heads"], bias=True, scale=True)
        self.ln_2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, c["ffn"])
        self.act = nn.GELU()
        self.proj = nn.Linear(c["ffn"], d)
        self.drop1 = nn.Dropout(DROPOUT)
        self.drop2 = nn.Dropout(DROPOUT)
        self.register_buffer("mask", causal_mask(seq))

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.drop1(self.attn(h, h, self.mask))
        return x + self.drop2(self.proj(self.act(self.fc(self.ln_2(x)))))

    # planner map name -> submodule
    MAPS = {"query": "attn.q", "key": "attn.k", "value": "attn.v", "attention_output": "attn.o",
            "ffn_input": "fc", "ffn_output": "proj"}


class GPT2Head(nn.Module):
    """Final norm and the language-model head; lm_head.weight is the embedding's wte (tied)."""

    def __init__(self, c, seq):
        super().__init__()
        self.ln_f = nn.LayerNorm(c["d"])
        self.lm_head = nn.Linear(c["d"], c["vocab"], bias=False)

    def forward(self, x):
        return self.lm_head(self.ln_f(x))

    TIED = {"lm_head.weight": "embed.wte.weight"}


def gpt2_layers(name, seq):
    """[(layer name, layer class)] of a GPT-2 configuration, in chain order; a class is built with
    (config, seq) one at a time (T5-Large's blocks together are 3 GB)."""
    c = GPT2[name]
    out = [("embed", GPT2Embed)]
    out += [(f"h.{i}", GPT2Block) for i in range(c["layers"])]
    out.append(("head", GPT2Head))
    return out


# ---- T5 ------------------------------------------------------------------------------------------

def relative_buckets(seq, bidirectional, buckets=32, max_distance=128):
    """T5's relative position bucket of every (query, key) pair: [seq, seq] int64."""
    ctx = torch.arange(seq)[:, None]
    mem = torch.arange(seq)[None, :]
    rel = mem - ctx
    ret = torch.zeros_like(rel)
    n = buckets
    if bidirectional:
        n //= 2
        ret += (rel > 0).long() * n
        rel = rel.abs()
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    exact = n // 2
    large = exact + (torch.log(rel.float().clamp(min=1) / exact) / math.log(max_distance / exact)
                     * (n - exact)).long()
    large = torch.min(large, torch.full_like(large, n - 1))
    return ret + torch.where(rel < exact, rel, large)


class T5Embed(nn.Module):
    """encoder.embed: the shared token embedding (ids [B, L] -> [B, L, d])."""

    def __init__(self, c, seq):
        super().__init__()
        self.shared = nn.Embedding(c["vocab"], c["d"])
        self.drop = nn.Dropout(DROPOUT)

    def forward(self, ids):
        return self.drop(self.shared(ids))


class T5EncoderBlock(nn.Module):
    """Self-attention and feed-forward, pre-norm; every block adds the relative position bias. In T5
    block 0 owns that [32, heads] table and passes the bias on; here each block looks it up (a table
    of 32 x heads values, counted once: describe_lm.py)."""

    def __init__(self, c, seq):
        super().__init__()
        d = c["d"]
        self.ln_1 = RMSNorm(d)
        self.attn = Attention(d, c["heads"], c["d_kv"], bias=False, scale=False)
        self.ln_2 = RMSNorm(d)
        self.wi = nn.Linear(d, c["ffn"], bias=False)
        self.act = nn.ReLU()
        self.drop_ff = nn.Dropout(DROPOUT)
        self.wo = nn.Linear(c["ffn"], d, bias=False)
        self.drop1 = nn.Dropout(DROPOUT)
        self.drop2 = nn.Dropout(DROPOUT)
        self.rel = nn.Embedding(32, c["heads"])
        self.register_buffer("buckets", relative_buckets(seq, bidirectional=True))

    def position_bias(self):
        # a lookup in a 32 x heads table, the same for every sample (priced as free by the counting
        # rules: a view of a parameter)
        return self.rel.weight[self.buckets].permute(2, 0, 1)

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.drop1(self.attn(h, h, self.position_bias()))
        return x + self.drop2(self.wo(self.drop_ff(self.act(self.wi(self.ln_2(x))))))

    MAPS = {"query": "attn.q", "key": "attn.k", "value": "attn.v", "attention_output": "attn.o",
            "ffn_input": "wi", "ffn_output": "wo"}
    SHARED = ("rel.weight",)


class T5DecoderEmbed(nn.Module):
    """decoder.embed: the encoder's final norm, and the decoder's ids embedded (tied to encoder.embed).
    Input [B, L, d] encoder hidden and [B, L] decoder ids; output [B, 2L, d] = (decoder, encoder)."""

    def __init__(self, c, seq):
        super().__init__()
        self.final_norm = RMSNorm(c["d"])
        self.drop_enc = nn.Dropout(DROPOUT)
        self.shared = nn.Embedding(c["vocab"], c["d"])
        self.drop = nn.Dropout(DROPOUT)

    def forward(self, enc, ids):
        return torch.cat([self.drop(self.shared(ids)), self.drop_enc(self.final_norm(enc))], 1)

    TIED = {"shared.weight": "encoder.embed.shared.weight"}


class T5DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention on the encoder output, feed-forward; [B, 2L, d] in and out
    (the encoder half passes through unchanged)."""

    def __init__(self, c, seq):
        super().__init__()
        d = c["d"]
        self.seq = seq
        self.ln_1 = RMSNorm(d)
        self.attn = Attention(d, c["heads"], c["d_kv"], bias=False, scale=False)
        self.ln_2 = RMSNorm(d)
        self.cross = Attention(d, c["heads"], c["d_kv"], bias=False, scale=False)
        self.ln_3 = RMSNorm(d)
        self.wi = nn.Linear(d, c["ffn"], bias=False)
        self.act = nn.ReLU()
        self.drop_ff = nn.Dropout(DROPOUT)
        self.wo = nn.Linear(c["ffn"], d, bias=False)
        self.drop1 = nn.Dropout(DROPOUT)
        self.drop2 = nn.Dropout(DROPOUT)
        self.drop3 = nn.Dropout(DROPOUT)
        self.rel = nn.Embedding(32, c["heads"])
        self.register_buffer("buckets", relative_buckets(seq, bidirectional=False))
        self.register_buffer("mask", causal_mask(seq))

    def forward(self, pair):
        x = pair[:, :self.seq]
        enc = pair[:, self.seq:]
        h = self.ln_1(x)
        x = x + self.drop1(self.attn(h, h, self.rel.weight[self.buckets].permute(2, 0, 1) + self.mask))
        x = x + self.drop2(self.cross(self.ln_2(x), enc, None))
        x = x + self.drop3(self.wo(self.drop_ff(self.act(self.wi(self.ln_3(x))))))
        return torch.cat([x, enc], 1)

    MAPS = {"query": "attn.q", "key": "attn.k", "value": "attn.v", "attention_output": "attn.o",
            "cross_query": "cross.q", "cross_key": "cross.k", "cross_value": "cross.v",
            "cross_attention_output": "cross.o", "ffn_input": "wi", "ffn_output": "wo"}
    SHARED = ("rel.weight",)


class T5Head(nn.Module):
    """decoder.final_norm and the language-model head (tied to the shared embedding, scaled by d^-0.5
    as T5 v1.0 does): [B, 2L, d] -> logits [B, L, vocab]."""

    def __init__(self, c, seq):
        super().__init__()
        self.seq = seq
        self.final_norm = RMSNorm(c["d"])
        self.drop = nn.Dropout(DROPOUT)
        self.lm_head = nn.Linear(c["d"], c["vocab"], bias=False)
        self.scale = c["d"] ** -0.5

    def forward(self, pair):
        return self.lm_head(self.drop(self.final_norm(pair[:, :self.seq])) * self.scale)

    TIED = {"lm_head.weight": "encoder.embed.shared.weight"}


def t5_layers(name, seq):
    """[(layer name, layer class)] of a T5 configuration, in chain order (as gpt2_layers)."""
    c = T5[name]
    out = [("encoder.embed", T5Embed)]
    out += [(f"encoder.block.{i}", T5EncoderBlock) for i in range(c["layers"])]
    out.append(("decoder.embed", T5DecoderEmbed))
    out += [(f"decoder.block.{i}", T5DecoderBlock) for i in range(c["layers"])]
    out.append(("head", T5Head))
    return out


def example_inputs(layer, c, seq, batch):
    """The example batch each layer is traced with."""
    if isinstance(layer, (GPT2Embed, T5Embed)):
        return (torch.randint(0, c["vocab"], (batch, seq)),)
    if isinstance(layer, T5DecoderEmbed):
        return (torch.randn(batch, seq, c["d"]), torch.randint(0, c["vocab"], (batch, seq)))
    if isinstance(layer, (T5DecoderBlock, T5Head)):
        return (torch.randn(batch, 2 * seq, c["d"]),)
    return (torch.randn(batch, seq, c["d"]),)

"""Byte-level BPE for the demo model: the DeepSeek-V3 pre-tokenizer, a trainer
and an encoder/decoder.

The pre-tokenizer is the one llama.cpp calls LLAMA_VOCAB_PRE_TYPE_DEEPSEEK3_LLM
(tokenizer.ggml.pre = "deepseek-v3"): three regex splits applied in sequence,
each one splitting every piece left by the previous one into its matches and
the text between them ("Isolated" in Hugging Face's Split pre-tokenizer), then
GPT-2's byte-to-unicode mapping. Merges are applied by rank, lowest first,
leftmost first on a tie, which is what both Hugging Face and llama.cpp do.
"""

import collections
import heapq

import regex

# The three splits of DeepSeek-V3's tokenizer.json, in order.
DEEPSEEK3_SPLITS = [
    r"\p{N}{1,3}",
    r"[一-龥぀-ゟ゠-ヿ]+",
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+"
    r"|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
    r"| ?[\p{P}\p{S}]+[\r\n]*"
    r"|\s*[\r\n]+"
    r"|\s+(?!\S)"
    r"|\s+",
]
_SPLIT_RES = [regex.compile(p) for p in DEEPSEEK3_SPLITS]

# Special tokens, DeepSeek-V3's spelling (fullwidth bars, U+2581 for spaces).
BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<｜▁pad▁｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK = "<think>"
END_THINK = "</think>"
# Ids 0..2 like DeepSeek-V3; the chat tokens go last, also like DeepSeek-V3.
SPECIALS_FIRST = [BOS, EOS, PAD]
SPECIALS_LAST = [USER, ASSISTANT, THINK, END_THINK]

TOKEN_TYPE_NORMAL = 1
TOKEN_TYPE_CONTROL = 3


def bytes_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def _split_isolated(pieces, rx):
    out = []
    for piece in pieces:
        pos = 0
        for m in rx.finditer(piece):
            if m.start() > pos:
                out.append(piece[pos:m.start()])
            if m.end() > m.start():
                out.append(m.group(0))
            pos = m.end()
        if pos < len(piece):
            out.append(piece[pos:])
    return out


def pre_tokenize(text):
    """Text -> list of pre-tokens in byte-level form (each char stands for one byte)."""
    pieces = [text]
    for rx in _SPLIT_RES:
        pieces = _split_isolated(pieces, rx)
    return ["".join(BYTE_TO_CHAR[b] for b in p.encode("utf-8")) for p in pieces]


def train(text, vocab_size, log=None):
    """Learns merges on text so that the vocabulary (specials + 256 bytes +
    merged tokens) has vocab_size entries. Deterministic: ties between pairs of
    equal count go to the lexicographically smallest pair."""
    n_target = vocab_size - len(SPECIALS_FIRST) - len(SPECIALS_LAST) - 256
    words = collections.Counter(pre_tokenize(text))
    word_syms = [list(w) for w in words]
    word_freq = [words[w] for w in words]

    pair_count = collections.Counter()
    pair_where = collections.defaultdict(set)
    for wi, syms in enumerate(word_syms):
        f = word_freq[wi]
        for a, b in zip(syms, syms[1:]):
            pair_count[(a, b)] += f
            pair_where[(a, b)].add(wi)

    # Max-heap on (count, then smallest pair); entries go stale and are re-checked.
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    known = set(BYTE_TO_CHAR.values())
    n_new = 0
    while n_new < n_target and heap:
        negc, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -negc or negc == 0:
            continue
        a, b = pair
        merged = a + b
        merges.append(pair)
        if merged not in known:
            known.add(merged)
            n_new += 1
        changed = collections.Counter()
        for wi in list(pair_where[pair]):
            syms = word_syms[wi]
            f = word_freq[wi]
            i = 0
            new = []
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    new.append(merged)
                    i += 2
                else:
                    new.append(syms[i])
                    i += 1
            for p in zip(syms, syms[1:]):
                changed[p] -= f
            for p in zip(new, new[1:]):
                changed[p] += f
            word_syms[wi] = new
            for p in zip(new, new[1:]):
                pair_where[p].add(wi)
        for p, d in changed.items():
            if d == 0:
                continue
            pair_count[p] += d
            if pair_count[p] <= 0:
                del pair_count[p]
            else:
                heapq.heappush(heap, (-pair_count[p], p))
        del pair_where[pair]
        pair_count.pop(pair, None)
        if log and len(merges) % 500 == 0:
            log(f"bpe: {len(merges)} merges, last {merged!r}")
    return merges


class Tokenizer:
    def __init__(self, merges, vocab_size):
        self.merges = merges
        tokens = list(SPECIALS_FIRST)
        tokens += [BYTE_TO_CHAR[b] for b in range(256)]
        seen = set(tokens)
        for a, b in merges:
            if a + b not in seen:
                seen.add(a + b)
                tokens.append(a + b)
        tokens += SPECIALS_LAST
        assert len(tokens) == vocab_size, (len(tokens), vocab_size)
        self.tokens = tokens
        self.token_types = [TOKEN_TYPE_CONTROL if t in SPECIALS_FIRST + SPECIALS_LAST
                            else TOKEN_TYPE_NORMAL for t in tokens]
        self.ids = {t: i for i, t in enumerate(tokens)}
        self.ranks = {p: r for r, p in enumerate(merges)}
        self.bos_id = self.ids[BOS]
        self.eos_id = self.ids[EOS]
        self.pad_id = self.ids[PAD]
        self._cache = {}

    @classmethod
    def from_vocab(cls, tokens, token_types, merges):
        """An encoder for another vocabulary (tokens, types and "a b" merges of a GGUF file)."""
        self = cls.__new__(cls)
        self.tokens = list(tokens)
        self.token_types = list(token_types)
        self.merges = [tuple(m.split(" ")) for m in merges]
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.ranks = {p: r for r, p in enumerate(self.merges)}
        self._cache = {}
        return self

    def _bpe(self, word):
        syms = list(word)
        while len(syms) > 1:
            best = None
            for i in range(len(syms) - 1):
                r = self.ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            i = best[1]
            syms[i:i + 2] = [syms[i] + syms[i + 1]]
        return [self.ids[s] for s in syms]

    def encode(self, text, add_bos=False):
        """Plain text (no special-token parsing) -> ids."""
        out = [self.bos_id] if add_bos else []
        for w in pre_tokenize(text):
            ids = self._cache.get(w)
            if ids is None:
                ids = self._bpe(w)
                self._cache[w] = ids
            out += ids
        return out

    def decode(self, ids):
        bs = bytearray()
        for i in ids:
            t = self.tokens[i]
            if self.token_types[i] == TOKEN_TYPE_CONTROL:
                bs += t.encode("utf-8")
            else:
                bs += bytes(CHAR_TO_BYTE[c] for c in t)
        return bs.decode("utf-8", errors="replace")

    def merges_strings(self):
        return [f"{a} {b}" for a, b in self.merges]

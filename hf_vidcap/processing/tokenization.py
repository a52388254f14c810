"""Word-level caption tokenizer built with the `tokenizers` library.

Captions are normalized (Unicode NFKC, lower case, apostrophes removed, other punctuation turned into spaces), split on
whitespace and mapped word by word to ids. The normalization lives in the tokenizer's normalizer, so `encode()` applies
it too, and [`normalize_caption`] applies the very same normalizer for metrics and datasets.
"""

from collections import Counter
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast


# Special tokens, in id order: `<pad>` = 0, `<bos>` = 1, `<eos>` = 2, `<unk>` = 3.
SPECIAL_TOKENS = {"pad_token": "<pad>", "bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>"}


def _caption_normalizer() -> normalizers.Normalizer:
    """The caption normalizer: NFKC, lower case, no apostrophes, other punctuation (and `_`) replaced by spaces."""
    return normalizers.Sequence(
        [
            normalizers.NFKC(),
            normalizers.Lowercase(),
            normalizers.Replace(Regex("['\u2019]"), ""),
            normalizers.Replace(Regex(r"[^\w\s]|_"), " "),
        ]
    )


_NORMALIZER = _caption_normalizer()


def normalize_caption(text: str) -> str:
    """
    Normalizes a caption exactly as the word-level tokenizer does, with single spaces between words.

    Args:
        text (`str`): The caption.

    Returns:
        `str`: The normalized caption, e.g. `"A man's dog, running!"` -> `"a mans dog running"`.
    """
    return " ".join(_NORMALIZER.normalize_str(text).split())


def build_word_tokenizer(
    captions: Iterable[str], min_count: int = 1, max_vocab_size: int | None = None
) -> PreTrainedTokenizerFast:
    """
    Builds a word-level tokenizer from a corpus of captions.

    The vocabulary holds the special tokens (`<pad>` = 0, `<bos>` = 1, `<eos>` = 2, `<unk>` = 3) followed by the words
    seen at least `min_count` times, sorted by decreasing frequency, then alphabetically. Other words map to `<unk>`.
    Encoding with special tokens gives `<bos> words <eos>`.

    Args:
        captions (`Iterable[str]`):
            The training captions.
        min_count (`int`, *optional*, defaults to 1):
            Words seen fewer times are left out of the vocabulary.
        max_vocab_size (`int`, *optional*):
            Largest vocabulary size, special tokens included; the most frequent words are kept.

    Returns:
        [`PreTrainedTokenizerFast`]: The tokenizer, with `pad_token`, `bos_token`, `eos_token` and `unk_token` set. It
        saves with `save_pretrained` and loads back with `AutoTokenizer.from_pretrained`.

    Raises:
        `ValueError`: if `captions` is a single string or holds something else than strings, `min_count` is below 1,
        or `max_vocab_size` cannot hold the special tokens.
    """
    if max_vocab_size is not None and max_vocab_size < len(SPECIAL_TOKENS):
        raise ValueError(
            f"`max_vocab_size` must be at least {len(SPECIAL_TOKENS)} (the special tokens), got {max_vocab_size}."
        )
    words = _frequent_words(captions, min_count)
    if max_vocab_size is not None:
        words = words[: max_vocab_size - len(SPECIAL_TOKENS)]
    return _word_level_tokenizer([*SPECIAL_TOKENS.values(), *words])


def extend_word_tokenizer(
    tokenizer: PreTrainedTokenizerFast, captions: Iterable[str], min_count: int = 1
) -> tuple[PreTrainedTokenizerFast, list[str]]:
    """
    Extends a word-level tokenizer with the words of a corpus it lacks, for fine-tuning on captions with new words.

    The words it has keep their ids; the new ones (seen at least `min_count` times, most frequent first, then
    alphabetically) get the ids after them, so a model grown with `resize_token_embeddings(len(tokenizer))` keeps what
    it learned of the known words.

    Args:
        tokenizer ([`PreTrainedTokenizerFast`]):
            A tokenizer made by [`build_word_tokenizer`] (or loaded from one), with ids `0..len(tokenizer) - 1`.
        captions (`Iterable[str]`):
            The new training captions.
        min_count (`int`, *optional*, defaults to 1):
            New words seen fewer times are left out (they map to `<unk>`).

    Returns:
        `tuple`: the extended tokenizer (`tokenizer` itself when no word is new), and the words added.

    Raises:
        `ValueError`: as [`build_word_tokenizer`] for bad captions or `min_count`.
    """
    vocab = tokenizer.get_vocab()
    new_words = [word for word in _frequent_words(captions, min_count) if word not in vocab]
    if not new_words:
        return tokenizer, []
    tokens = sorted(vocab, key=vocab.get)
    if [vocab[token] for token in tokens] != list(range(len(tokens))):
        raise ValueError("The tokenizer's ids are not 0..len(tokenizer) - 1: it was not made by build_word_tokenizer.")
    return _word_level_tokenizer([*tokens, *new_words]), new_words


def _frequent_words(captions: Iterable[str], min_count: int) -> list[str]:
    """The normalized words of `captions` seen at least `min_count` times, most frequent first, then alphabetically."""
    if isinstance(captions, str):
        raise ValueError(
            "`captions` is one string: pass a list of captions (a string would give a vocabulary of letters)."
        )
    captions = list(captions)
    bad = next((index for index, caption in enumerate(captions) if not isinstance(caption, str)), None)
    if bad is not None:
        raise ValueError(f"`captions[{bad}]` is a {type(captions[bad]).__name__}, not a caption string.")
    if min_count < 1:
        raise ValueError(f"`min_count` must be at least 1, got {min_count}.")
    counts = Counter(word for caption in captions for word in normalize_caption(caption).split())
    return sorted((word for word, count in counts.items() if count >= min_count), key=lambda w: (-counts[w], w))


def _word_level_tokenizer(tokens: list[str]) -> PreTrainedTokenizerFast:
    """The caption tokenizer whose token of id `i` is `tokens[i]`; the special tokens come first."""
    vocab = {token: index for index, token in enumerate(tokens)}
    backend = Tokenizer(WordLevel(vocab, unk_token=SPECIAL_TOKENS["unk_token"]))
    backend.normalizer = _caption_normalizer()
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    bos, eos = SPECIAL_TOKENS["bos_token"], SPECIAL_TOKENS["eos_token"]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, vocab[bos]), (eos, vocab[eos])]
    )
    backend.add_special_tokens(list(SPECIAL_TOKENS.values()))
    return PreTrainedTokenizerFast(tokenizer_object=backend, **SPECIAL_TOKENS)

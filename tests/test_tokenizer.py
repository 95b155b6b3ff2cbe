import pytest

from minialign.tokenizer import Tokenizer, train
from minialign.world import MiniWorld


@pytest.fixture(scope="module")
def tok():
    return train(MiniWorld().corpus_documents(400) + ["The answer is A."], vocab_size=400)


def test_round_trip_of_ordinary_text(tok):
    text = " What is the capital of Peru? It is Lima, and 7 plus 5 is 12."
    assert tok.decode(tok.encode(text)) == text


def test_digits_are_split_one_per_token(tok):
    pieces = tok.tokens(" 1234 plus 56")
    digit_pieces = [p for p in pieces if any(c.isdigit() for c in p)]
    assert all(sum(c.isdigit() for c in p) == 1 for p in digit_pieces)
    assert len(digit_pieces) == 6


def test_chat_template_marks_roles_and_prompt_length(tok):
    ids, prompt_len = tok.encode_chat("Hi there?", "Hello.")
    assert ids[0] == tok.user_id and ids[prompt_len - 1] == tok.assistant_id and ids[-1] == tok.end_id
    assert tok.decode(ids[prompt_len:]).strip() == "Hello."
    assert tok.decode(ids, skip_special=False) == "<|user|> Hi there?<|assistant|> Hello.<|end|>"


def test_special_tokens_are_single_tokens_never_split(tok):
    ids = tok.encode("<|user|><|assistant|><|end|><|pad|>")
    assert ids == [tok.user_id, tok.assistant_id, tok.end_id, tok.pad_id]


def test_multi_turn_prompt_must_end_with_user(tok):
    with pytest.raises(ValueError, match="user turn"):
        tok.chat_prompt([("user", "a"), ("assistant", "b")])


def test_decode_response_cuts_at_end(tok):
    ids = tok.encode(" Yes.") + [tok.end_id] + tok.encode(" garbage")
    assert tok.decode_response(ids) == "Yes."


def test_save_and_load_give_the_same_tokenizer(tok, tmp_path):
    tok.save(tmp_path / "t.json")
    again = Tokenizer.load(tmp_path / "t.json")
    assert again.encode(" plus 42") == tok.encode(" plus 42") and again.end_id == tok.end_id


def test_loading_garbage_says_what_failed(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="could not load a tokenizer"):
        Tokenizer.load(tmp_path / "bad.json")

import pytest

from shared.credit_code import ALPHABET, check_character, complete, is_valid

# Published example of a valid code (check character 3).
KNOWN_VALID = "91350100M000100Y43"


def test_known_code_is_valid() -> None:
    assert is_valid(KNOWN_VALID)
    assert check_character(KNOWN_VALID[:17]) == "3"


def test_weights_are_powers_of_three_mod_31() -> None:
    # Independent re-computation of the GB 32100 check with weights 3**i mod 31.
    total = sum(ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(KNOWN_VALID[:17]))
    assert ALPHABET[(31 - total % 31) % 31] == KNOWN_VALID[17]


@pytest.mark.parametrize("position", range(18))
def test_changing_one_character_fails(position: int) -> None:
    original = KNOWN_VALID[position]
    replacement = ALPHABET[(ALPHABET.index(original) + 1) % len(ALPHABET)]
    changed = KNOWN_VALID[:position] + replacement + KNOWN_VALID[position + 1 :]
    assert not is_valid(changed)


@pytest.mark.parametrize("code", ["", KNOWN_VALID[:17], KNOWN_VALID + "0", KNOWN_VALID * 2])
def test_wrong_length_is_invalid(code: str) -> None:
    assert not is_valid(code)


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_forbidden_letters_are_invalid(letter: str) -> None:
    code = KNOWN_VALID[:8] + letter + KNOWN_VALID[9:]
    assert not is_valid(code)
    with pytest.raises(ValueError):
        check_character(code[:17])


def test_lower_case_and_non_strings_are_invalid_without_raising() -> None:
    assert not is_valid(KNOWN_VALID.lower())
    assert not is_valid(None)  # type: ignore[arg-type]


def test_check_character_rejects_wrong_length() -> None:
    with pytest.raises(ValueError):
        check_character(KNOWN_VALID)
    with pytest.raises(ValueError):
        check_character("123")


@pytest.mark.parametrize(
    "first17", [KNOWN_VALID[:17], "91441200MA4UJ0000", "00000000000000000", "YYYYYYYYYYYYYYYYY"]
)
def test_complete_round_trips(first17: str) -> None:
    code = complete(first17)
    assert len(code) == 18
    assert code[:17] == first17
    assert is_valid(code)

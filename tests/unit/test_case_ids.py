"""Case ids: unguessable, and safe to type after a command."""

import re

from tutor.persistence.repository import new_case_id


def test_case_ids_are_twelve_letters_and_digits_and_never_repeat():
    ids = [new_case_id() for _ in range(20000)]
    assert all(re.fullmatch(r"[A-Za-z0-9]{12}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    # Every letter and digit is used: the full 62-character alphabet, about 71 random bits.
    assert len(set("".join(ids))) == 62

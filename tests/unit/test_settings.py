"""movielake.data.settings.setting: the one reader of the Python models' `config: meta:` values."""

from __future__ import annotations

import pytest

from movielake.data.settings import SettingError, setting


def test_values_come_back_typed():
    assert setting("top_k", "10", int) == 10
    assert setting("alpha", "1.5", float) == 1.5
    assert setting("ranks", "[8, 16]", list) == [8, 16]
    assert setting("ranks", "8", list) == [8]
    assert setting("flag", "True", bool) is True


def test_a_missing_key_names_the_key():
    with pytest.raises(SettingError, match="'top_n' is not set"):
        setting("top_n", None, int)


def test_a_value_of_the_wrong_type_names_the_key_and_the_value():
    with pytest.raises(SettingError, match="'top_k' = 'ten' is not of type int"):
        setting("top_k", "ten", int)
    with pytest.raises(SettingError, match="'ranks'"):
        setting("ranks", "[8, 16", list)
    with pytest.raises(SettingError, match="'flag'"):
        setting("flag", "maybe", bool)

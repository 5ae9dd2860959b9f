"""MNEMO_LLM for `mnemo run`: "local" or unset, and MNEMO_LLM_URL wins over it."""

import pytest

from mnemo.runtime.settings import load_run_settings
from mnemo.settings import SettingsError


def test_local_starts_a_model_server_unless_a_url_is_given():
    assert load_run_settings({"MNEMO_LLM": "local"}).local_llm
    assert not load_run_settings({}).local_llm
    given = {"MNEMO_LLM": "local", "MNEMO_LLM_URL": "http://gpu-box:8000/v1"}
    assert not load_run_settings(given).local_llm
    # Empty means unset, as for every other variable.
    assert not load_run_settings({"MNEMO_LLM": ""}).local_llm


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MNEMO_LLM": "ollama"}, "MNEMO_LLM"),
        ({"MNEMO_LLM": "local", "MNEMO_LLM_THREADS": "0"}, "MNEMO_LLM_THREADS"),
        ({"MNEMO_LLM_THREADS": "two"}, "MNEMO_LLM_THREADS"),
    ],
)
def test_bad_values_name_the_variable(env, variable):
    with pytest.raises(SettingsError, match=variable):
        load_run_settings(env)

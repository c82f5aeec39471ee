"""The `full` query-expansion path for real: a pre-trained causal LM of another
architecture than the tiny GPT-2 (a tiny Qwen2 with its own tokenizer and chat template,
saved with save_pretrained) read from QE_FULL_MODEL_PATH, trained through every phase and
served by POST /api/expand. (The `full` image generator's job test is in
tests/test_imagegen_jobs.py.)"""

# ruff: noqa: F811  (the shared fixtures are imported by name, then used as arguments)
from __future__ import annotations

import json
import shutil

import pytest
from django.core.cache import cache
from django.db import transaction

from tests.qe_fixtures import qe_catalog  # noqa: F401
from tests.tiny_pipelines import LM_EOS, tiny_causal_lm  # noqa: F401
from workers.models import Job, ModelVersion
from workers.qe.serving import loaded_model
from workers.services import job_create, job_run
from workers.versions import artifact_path, live_version

SMALL = {"batch_size": 4, "eval_queries": 6}

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(autouse=True)
def _empty_cache():  # type: ignore[no-untyped-def]
    cache.clear()  # served answers are cached by version and query


def run(kind: str, project, **params) -> Job:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        job = job_create(kind=kind, params=params, project=project)
    job_run(job.pk)
    job.refresh_from_db()
    return job


def test_a_full_run_without_a_local_model_fails_before_training(
    project, qe_catalog, settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings.QE_FULL_MODEL_PATH = str(tmp_path / "missing")
    job = run("qe_pretrain", project, size="full", steps=1, **SMALL)
    assert job.status == Job.Status.FAILED and "QE_FULL_MODEL_PATH" in job.error
    assert not ModelVersion.objects.filter(project=project).exists()


@pytest.mark.slow
def test_a_pretrained_qwen2_goes_through_every_phase_and_serves_expansions(
    project, qe_catalog, settings, tiny_causal_lm, api, annotator
) -> None:  # type: ignore[no-untyped-def]
    settings.QE_FULL_MODEL_PATH = str(tiny_causal_lm)
    pre = run("qe_pretrain", project, size="full", steps=3, **SMALL)
    assert pre.status == Job.Status.SUCCEEDED, pre.error
    sft = run("qe_sft", project, steps=3, **SMALL)
    assert sft.status == Job.Status.SUCCEEDED, sft.error
    ppo = run("qe_ppo", project, steps=1, **SMALL)
    assert ppo.status == Job.Status.SUCCEEDED, ppo.error
    grpo = run("qe_grpo", project, steps=1, prompts=2, generations=2, eval_queries=6)
    assert grpo.status == Job.Status.SUCCEEDED, grpo.error

    versions = list(ModelVersion.objects.filter(project=project).order_by("version"))
    assert [v.name for v in versions] == ["pretrain", "sft", "ppo", "grpo"]
    source = json.loads((tiny_causal_lm / "config.json").read_text())
    for version in versions:
        folder = artifact_path(version)
        config = json.loads((folder / "config.json").read_text())
        # Every phase keeps the operator's architecture and tokenizer, not the tiny GPT-2's.
        assert config["model_type"] == "qwen2"
        assert config["num_hidden_layers"] == source["num_hidden_layers"]
        tokenizer = json.loads((folder / "tokenizer_config.json").read_text())
        assert tokenizer["eos_token"] == LM_EOS
        assert (folder / "chat_template.jinja").is_file()
        assert 0.0 <= version.metrics["recall10"] <= 1.0
    assert pre.metrics["loss_last"] > 0 and len(pre.metrics["curve"]) >= 1
    assert versions[1].parent == versions[0] and versions[2].parent == versions[1]
    assert "recall_gain" in versions[2].metrics["reward_components"]

    live = live_version(project, "query_expansion")
    assert live is not None and live.name in ("sft", "ppo", "grpo")
    model, tok = loaded_model(live)
    assert type(model).__name__ == "Qwen2ForCausalLM" and tok.eos_token == LM_EOS
    answer = api(annotator).post(
        "/api/expand", {"project": project.pk, "query": "red mug"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert isinstance(body["terms"], list) and body["version"]["id"] == live.pk


def test_the_saved_model_folder_is_what_the_loader_reads(tiny_causal_lm, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The project's loader reads the folder offline, in float32 although the checkpoint is
    bfloat16 (as Qwen's are), with the tokenizer's own pad and EOS and left padding for
    batched generation; a folder without weights is refused."""
    import torch

    from workers.qe.ml.model import load

    saved = json.loads((tiny_causal_lm / "config.json").read_text())
    assert saved["dtype"] == "bfloat16"
    model, tok = load(tiny_causal_lm)
    assert model.config.model_type == "qwen2" and model.dtype == torch.float32
    assert (tok.eos_token, tok.pad_token, tok.bos_token) == (LM_EOS, "<|endoftext|>", None)
    assert tok.padding_side == "left" and tok.chat_template
    broken = tmp_path / "broken"
    shutil.copytree(tiny_causal_lm, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(OSError):
        load(broken)

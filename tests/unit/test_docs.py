"""The reference in docs/pipeline.md says what flows/pipeline.py declares."""
import os

import pytest

from flows import pipeline, reference

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "pipeline.md")


def test_the_pipeline_reference_is_the_one_generated_from_the_declarations():
    text = open(DOC).read()
    assert reference.replace_part(text) == text, "docs/pipeline.md is stale: run `python -m flows.reference`"


def test_every_table_band_and_register_is_in_the_reference():
    part = reference.markdown()
    for table in pipeline.TABLES:
        assert "| %d | `%s` |" % (table.id, table.name) in part
        for band in table.bands:
            assert band is pipeline.DEFAULT or "| %d | `%s` |" % (band.priority, band.name) in part
    for register in pipeline.REGISTERS:
        assert "| `%s` | %d |" % (register.field, register.bits) in part


def test_a_document_without_the_markers_is_refused():
    with pytest.raises(ValueError, match="no"):
        reference.replace_part("# The pipeline\n")

"""docs/spark.md's generated sections match the plugin's code (run jvm-plugin/gen-docs.sh)."""

import os
import re

import pytest

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "spark.md")


@pytest.mark.parametrize("section", ["configs", "operators", "expressions"])
def test_generated_sections_are_fresh(spark, section):
    text = open(DOCS).read()
    found = re.search(rf"<!-- cinder:{section} -->\n(.*?)<!-- /cinder:{section} -->", text, re.S)
    assert found, f"docs/spark.md has no {section} markers"
    docs = spark._jvm.org.apache.spark.sql.cinder.CinderDocs
    generated = docs.sections().apply(section)
    assert found.group(1) == generated, "docs/spark.md is stale: run jvm-plugin/gen-docs.sh"

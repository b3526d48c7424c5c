"""Feature template documents: ``features/templates_data/<id>.json``, checked wherever they enter.

A document is ``{"id", "name", "description", "category", "fields": {key: definition}}`` with
definitions in the vocabulary of ``features/vocabulary.py``. Problems name the JSON path, and a
file's problems also name the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features.vocabulary import FIELD_KEY_PATTERN, FIELD_KEY_RULE, definition_errors

TEMPLATES_DIR = Path(__file__).with_name("templates_data")
TEMPLATE_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
CATEGORY_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
DOCUMENT_KEYS = {"id", "name", "description", "category", "fields"}
MAX_FIELDS = 100


class TemplateFileError(ValueError):
    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: " + "; ".join(errors))


@dataclass(frozen=True)
class TemplateFile:
    path: Path
    document: dict
    digest: str


def fields_errors(fields: Any, path: str = "$.fields") -> list[str]:
    if not isinstance(fields, dict) or not fields:
        return [f"{path} must be a non-empty object of field definitions"]
    if len(fields) > MAX_FIELDS:
        return [f"{path} may hold {MAX_FIELDS} fields at most"]
    errors: list[str] = []
    for key, definition in fields.items():
        if not FIELD_KEY_PATTERN.match(key):
            errors.append(f"{path}.{key[:64]}: field key {FIELD_KEY_RULE}")
            continue
        errors += definition_errors(definition, f"{path}.{key}")
    return errors


def template_errors(document: Any) -> list[str]:
    """Every problem with a template document, each prefixed with its JSON path."""
    if not isinstance(document, dict):
        return ["$ must be an object"]
    errors = [f"$.{key} is not a template property" for key in document if key not in DOCUMENT_KEYS]
    errors += [f"$.{key} is required" for key in sorted(DOCUMENT_KEYS) if key not in document]
    if "id" in document and (
        not isinstance(document["id"], str) or not TEMPLATE_ID_PATTERN.match(document["id"])
    ):
        errors.append("$.id must be lower-case letters, digits and _ starting with a letter (64 at most)")
    if "name" in document and (not isinstance(document["name"], str) or not document["name"].strip()):
        errors.append("$.name must be non-empty text")
    if "description" in document and not isinstance(document["description"], str):
        errors.append("$.description must be text")
    if "category" in document and (
        not isinstance(document["category"], str) or not CATEGORY_PATTERN.match(document["category"])
    ):
        errors.append("$.category must be lower-case letters, digits, - and _ starting with a letter")
    if "fields" in document:
        errors += fields_errors(document["fields"])
    return errors


def load_template_file(path: Path) -> TemplateFile:
    raw = path.read_bytes()
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise TemplateFileError(str(path), [f"not UTF-8 text ({exc.reason})"]) from exc
    except json.JSONDecodeError as exc:
        raise TemplateFileError(
            str(path), [f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        ) from exc
    errors = template_errors(document)
    if not errors and document["id"] != path.stem:
        errors = [f"$.id '{document['id']}' does not match the file name '{path.name}'"]
    if errors:
        raise TemplateFileError(str(path), errors)
    return TemplateFile(path=path, document=document, digest=hashlib.sha256(raw).hexdigest())


def load_template_files(directory: Path = TEMPLATES_DIR) -> list[TemplateFile]:
    """Every template file, checked; the first broken one raises with its name and problems."""
    return [load_template_file(path) for path in sorted(directory.glob("*.json"))]


def fields_as_list(fields: dict) -> list[dict]:
    return [{"key": key, **definition} for key, definition in fields.items()]

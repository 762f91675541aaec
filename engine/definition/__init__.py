"""Workflow definitions: one schema for YAML, JSON, the admin and the API.

Parse (``parse_definition``), check (``validate_definition``), walk (``successor`` …),
export (``dump_yaml``/``dump_json``) and describe (``step_catalog``/``workflow_json_schema``).

May import only ``engine.language`` (and Django, pydantic, PyYAML); every wing above may
import it.
"""

from engine.definition.catalog import step_catalog, trigger_catalog, workflow_json_schema
from engine.definition.export import definition_to_dict, dump_json, dump_yaml
from engine.definition.navigation import parse_target, step_by_id, successor, targets_of
from engine.definition.parser import ParsedDefinition, load_definition, parse_definition
from engine.definition.problems import DefinitionError, Problem, Severity, ValidationResult
from engine.definition.registry import (
    Group,
    StepConfig,
    StepKind,
    get_step_kind,
    register_step_kind,
)
from engine.definition.schema import Settings, Step, Trigger, WorkflowDefinition
from engine.definition.validation import (
    DEFAULT_CONTACT_FIELDS,
    ValidationContext,
    check_document,
    validate_definition,
)

__all__ = [
    "DEFAULT_CONTACT_FIELDS",
    "DefinitionError",
    "Group",
    "ParsedDefinition",
    "Problem",
    "Settings",
    "Severity",
    "Step",
    "StepConfig",
    "StepKind",
    "Trigger",
    "ValidationContext",
    "ValidationResult",
    "WorkflowDefinition",
    "check_document",
    "definition_to_dict",
    "dump_json",
    "dump_yaml",
    "get_step_kind",
    "load_definition",
    "parse_definition",
    "parse_target",
    "register_step_kind",
    "step_by_id",
    "step_catalog",
    "successor",
    "targets_of",
    "trigger_catalog",
    "validate_definition",
    "workflow_json_schema",
]

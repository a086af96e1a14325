"""Segments: rules over customers compiled to SQL, their live key figures, comparison, saved versions and export.

A segment is a *rule*, a JSON document of nested groups of conditions::

    {"all": [{"field": "country", "op": "in", "value": ["Germany", "France"]},
             {"any": [{"field": "orders", "op": ">=", "value": 3, "window_days": 365},
                      {"field": "rfm_segment", "op": "=", "value": "At risk"}]}]}

The package, one module per stage:

- :mod:`~crm_core.segments.fields`: the allow-list of fields a rule may name;
- :mod:`~crm_core.segments.rules`: the JSON rule document read and checked, its size limits and errors;
- :mod:`~crm_core.segments.builder`: editing a rule document (the rule builder's tree edits) and the distinct
  values of a field for the builder;
- :mod:`~crm_core.segments.compiler`: the rule compiled to SQL in named CTE stages, the members query;
- :mod:`~crm_core.segments.live`: live key figures (preview, size, member ids, members) and the named RFM segments;
- :mod:`~crm_core.segments.comparison`: up to four segments side by side, with the notable differences;
- :mod:`~crm_core.segments.export`: the consent-aware export of a segment for one channel;
- :mod:`~crm_core.segments.saved`: saved segments with versions, JSON export and import.

The public names of every module are re-exported here: ``segments.segment_preview``, ``segments.RuleError``...
"""

from crm_core.segments.builder import (
    Path,
    add_condition,
    add_group,
    attribute_names,
    children,
    default_condition,
    empty_rule,
    field_values,
    group_kind,
    node_at,
    remove_node,
    replace_node,
    set_group_kind,
)
from crm_core.segments.comparison import (
    COMPARISON_METRICS,
    MAX_COMPARED,
    NOTABLE_POINTS,
    NOTABLE_RELATIVE,
    SegmentComparison,
    compare_segments,
)
from crm_core.segments.compiler import (
    CompiledRule,
    compile_rule,
    members_query,
    needs_rfm_bounds,
    needs_scores,
    prepare_rule,
    rule_members,
)
from crm_core.segments.export import (
    EXCLUSION_REASONS,
    EXPORT_CHANNELS,
    EXPORT_COLUMNS,
    SegmentExport,
    export_segment,
)
from crm_core.segments.fields import (
    ATTRIBUTE_PREFIXES,
    FIELDS,
    GROUP_KINDS,
    OPERATORS,
    Field,
    FieldType,
    field_for,
    fields_frame,
)
from crm_core.segments.live import (
    MEMBER_COLUMNS,
    MemberList,
    SegmentPreview,
    named_segments,
    rfm_segment_rule,
    segment_member_ids,
    segment_members,
    segment_preview,
    segment_size,
)
from crm_core.segments.rules import (
    MAX_RULE_CHARS,
    MAX_RULE_DEPTH,
    MAX_RULE_NODES,
    MAX_WINDOW_DAYS,
    Condition,
    Group,
    Node,
    Rule,
    RuleError,
    check_rule_size,
    conditions_of,
    load_rule,
    parse_rule,
    rule_fields,
    rule_json,
)
from crm_core.segments.saved import (
    EXPORT_FORMAT,
    MAX_NAME,
    SavedSegment,
    SegmentError,
    delete_segment,
    export_segments_json,
    get_segment,
    import_segments_json,
    list_segments,
    rename_segment,
    save_segment,
    segment_versions,
    version_sizes,
)

__all__ = [
    "ATTRIBUTE_PREFIXES",
    "COMPARISON_METRICS",
    "EXCLUSION_REASONS",
    "EXPORT_CHANNELS",
    "EXPORT_COLUMNS",
    "EXPORT_FORMAT",
    "FIELDS",
    "GROUP_KINDS",
    "MAX_COMPARED",
    "MAX_NAME",
    "MAX_RULE_CHARS",
    "MAX_RULE_DEPTH",
    "MAX_RULE_NODES",
    "MAX_WINDOW_DAYS",
    "MEMBER_COLUMNS",
    "NOTABLE_POINTS",
    "NOTABLE_RELATIVE",
    "OPERATORS",
    "CompiledRule",
    "Condition",
    "Field",
    "FieldType",
    "Group",
    "MemberList",
    "Node",
    "Path",
    "Rule",
    "RuleError",
    "SavedSegment",
    "SegmentComparison",
    "SegmentError",
    "SegmentExport",
    "SegmentPreview",
    "add_condition",
    "add_group",
    "attribute_names",
    "check_rule_size",
    "children",
    "compare_segments",
    "compile_rule",
    "conditions_of",
    "default_condition",
    "delete_segment",
    "empty_rule",
    "export_segment",
    "export_segments_json",
    "field_for",
    "field_values",
    "fields_frame",
    "get_segment",
    "group_kind",
    "import_segments_json",
    "list_segments",
    "load_rule",
    "members_query",
    "named_segments",
    "needs_rfm_bounds",
    "needs_scores",
    "node_at",
    "parse_rule",
    "prepare_rule",
    "remove_node",
    "rename_segment",
    "replace_node",
    "rfm_segment_rule",
    "rule_fields",
    "rule_json",
    "rule_members",
    "save_segment",
    "segment_member_ids",
    "segment_members",
    "segment_preview",
    "segment_size",
    "segment_versions",
    "set_group_kind",
    "version_sizes",
]

"""List filters: each query parameter a resource declares, parsed by a marshmallow field."""
from marshmallow import ValidationError, fields, validate

from app.api.paging import MAX_LIMIT
from app.api.problems import ApiError
from app.api.schemas import storable

PAGING = ("cursor", "limit")


class Filter:
    """`?name=value` keeps rows whose `column` equals the value (parsed by `field`)."""

    description = "Rows whose {name} equals this value."

    def __init__(self, column, field, description=None):
        self.column, self.field = column, field
        if description:
            self.description = description

    def clause(self, value):
        """The WHERE clause for a parsed value."""
        return self.column == value


class Contains(Filter):
    """`?name=text` keeps rows whose `column` contains the text, ignoring case."""

    description = "Rows whose {name} contains this text (case-insensitive)."

    def __init__(self, column, description=None, max_length=100):
        super().__init__(column, fields.String(validate=validate.Length(min=1, max=max_length)), description)

    def clause(self, value):
        """column ILIKE %value% with the wildcards of the value escaped."""
        return contains(self.column, value)


def contains(column, value):
    """`column` contains `value`, ignoring case; % and _ in the value are plain characters."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


class Custom(Filter):
    """`?name=value` answered by a function of the parsed value returning a WHERE clause."""

    def __init__(self, field, build, description):
        super().__init__(None, field, description)
        self.build = build

    def clause(self, value):
        """The clause `build` gives for the value."""
        return self.build(value)


def apply(query, declared, args):
    """`query` narrowed by every declared filter present in `args`; unknown parameters and bad values are 400."""
    unknown = sorted(set(args) - set(declared) - set(PAGING))
    if unknown:
        raise ApiError(400, "Unknown query parameters: " + ", ".join(unknown[:10]),
                       errors={name: ["Unknown parameter."] for name in unknown[:10]})
    errors = {name: ["Text with NUL characters or invalid Unicode."] for name in args
              if any(not storable(value) for value in args.getlist(name))}
    if errors:
        raise ApiError(400, "Some filters are not valid.", errors=errors)
    for name, spec in declared.items():
        if name not in args:
            continue
        values = args.getlist(name)
        try:
            if len(values) > 1:
                raise ValidationError("Give this parameter once.")
            value = spec.field.deserialize(values[0])
        except ValidationError as exc:
            errors[name] = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
            continue
        query = query.where(spec.clause(value))
    if errors:
        raise ApiError(400, "Some filters are not valid.", errors=errors)
    return query


def parameters(declared):
    """OpenAPI query parameters of the paging arguments and the declared filters."""
    from app.api.openapi import field_schema

    params = [
        {"name": "cursor", "in": "query", "required": False, "description": "The next_cursor of the previous page.",
         "schema": {"type": "string", "maxLength": 40}},
        {"name": "limit", "in": "query", "required": False, "description": f"Rows per page (1–{MAX_LIMIT}).",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
    ]
    for name, spec in declared.items():
        params.append({"name": name, "in": "query", "required": False,
                       "description": spec.description.format(name=name), "schema": field_schema(spec.field)})
    return params

"""One error family for everything kfx-notebook raises on purpose.

Positions are 1-based line and 1-based column in the text the user wrote (the KQL of
the cell, or the binding property), translated once where an engine reports them.
Mistakes in calling code stay plain ``TypeError``/``ValueError``. Only the magic layer
renders these; library code raises and never prints.

No message may contain a secret from a connection string: callers pass masked text
(``settings.mask_connection_string``) into anything that ends up here.
"""

from __future__ import annotations


class KfxError(Exception):
    """Base class. ``code`` is a Kusto-like error code; ``hint`` says what to do."""

    code = "General_BadRequest"

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None,
                 line: int | None = None, column: int | None = None, text: str | None = None,
                 request_id: str | None = None, permanent: bool = True):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.hint = hint
        self.line = line          # 1-based
        self.column = column      # 1-based
        self.text = text          # the text line/column point into
        self.request_id = request_id
        self.permanent = permanent

    def __str__(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"{self.message}{where}{hint}"


class KustoQueryError(KfxError):
    """Kusto (or the local engine) refused a query or command."""


class KustoSyntaxError(KustoQueryError):
    """The KQL does not parse."""

    code = "BadRequest_SyntaxError"


class KustoSemanticError(KustoQueryError):
    """The KQL parses but names something unknown or mistyped (``Semantic error: ...``)."""

    code = "BadRequest_SemanticError"


class UnknownEntityError(KustoSemanticError):
    """A table, column, function or database that does not exist. ``entity`` names it."""

    code = "BadRequest_EntityNotFound"

    def __init__(self, message: str, *, entity: str = "", kind: str = "", **kw):
        super().__init__(message, **kw)
        self.entity = entity
        self.kind = kind


class NameCaseConflictError(KustoQueryError):
    """A new name differs only in case from an existing one the local database cannot tell apart."""

    code = "BadRequest_EntityAlreadyExists"

    def __init__(self, message: str, *, entity: str = "", **kw):
        super().__init__(message, **kw)
        self.entity = entity


class UnsupportedError(KustoQueryError):
    """A command or option the local database cannot honour (refused, never ignored)."""

    code = "BadRequest_NotSupported"


class BindingError(KfxError):
    """A binding property the Functions extension would reject, with its message."""

    code = "BindingError"


class ParameterGrammarError(BindingError):
    """kqlParameters / clientRequestProperties / ingestionProperties do not parse (E1, E2, duplicate)."""


class ExpressionError(BindingError):
    """A binding expression (``{name}``, ``{Query.x}``, ``%SETTING%``) cannot be resolved."""


class SettingError(KfxError):
    """A connection setting is missing, empty or not a connection string we understand."""

    code = "ConnectionSettingError"


class IngestionError(KfxError):
    """Rows could not be ingested (bad data, unknown mapping, failed status)."""

    code = "BadRequest_IngestionError"


class ResultTruncatedError(KfxError):
    """Kusto cut the result (E_QUERY_RESULT_SET_TOO_LARGE or the row limit)."""

    code = "E_QUERY_RESULT_SET_TOO_LARGE"

"""`exceptions` for sqlfluff's jinja templater: linting renders the happy path, so a model's
compile-time error for a bad var never fires here."""


def raise_compiler_error(message):
    return ""

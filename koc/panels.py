"""The KOC programme's panel on the member 360 page and its section on the staff phone view."""


def register() -> None:
    return None

"""What the WeCom connector adds to the member centre: hooks."""


def register() -> None:
    pass

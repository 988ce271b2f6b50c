"""What the WeCom connector adds to the member centre: panels."""


def register() -> None:
    pass

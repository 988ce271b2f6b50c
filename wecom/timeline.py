"""What the WeCom connector adds to the member centre: timeline."""


def register() -> None:
    pass

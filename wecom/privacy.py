"""What the WeCom connector adds to the member centre: privacy."""


def register() -> None:
    pass

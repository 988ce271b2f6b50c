"""Services of the WeCom connector: every write with a business rule, one module per part."""

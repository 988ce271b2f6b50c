"""Dashboard and phone screens of the WeCom connector, one module per part."""

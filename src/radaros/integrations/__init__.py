"""Adapters that put radaros under agent frameworks' own storage interfaces.

Each framework's adapter is a module here behind an extra of the same name
(`pip install "radaros[langgraph]"`); importing `radaros` never imports a framework.
Every adapter takes any `KeyValue` (a driver, a `Scoped` view, an instrumented one) or a
`SyncStorage`, and stores plain JSON entries: nothing is ever pickled.
"""

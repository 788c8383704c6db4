"""`llmtui web`: the workbench in a browser (textual-serve: a workbench process per tab),
its models run once, by a `llmtui serve` the tabs share."""

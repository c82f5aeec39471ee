"""Query-expansion review items: how reviewers rate a model's expansion terms and choose
between two models' expansions (the item kind's spec is in ``kind``)."""

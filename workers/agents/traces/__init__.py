"""Agent traces as review items: conversion to and from items, import, and the item kind
(the review page's validation, form and agreement units)."""

"""Typed service keys: one part of a process provides a service under a :class:`Key`, the
others need it by the same key, and none imports the other to find it (features provide
theirs in their setup; the web layer and the router need some)."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar, overload

T = TypeVar("T")


class Provider(Protocol):
    def need(self, key: Key[T]) -> T:
        """The service under ``key``; a feature set up earlier must have provided it."""

    def find(self, key: Key[T]) -> T | None:
        """The service under ``key``, or None when no feature provides it."""


class Key(Generic[T]):
    """Names a service of type ``T`` that one feature provides and others need. Set as a class
    attribute it also reads as one: ``identity = IDENTITY`` makes ``host.identity`` be
    ``host.need(IDENTITY)``, typed."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Key({self.name!r})"

    @overload
    def __get__(self, host: None, owner: type) -> Key[T]: ...
    @overload
    def __get__(self, host: Provider, owner: type) -> T: ...
    def __get__(self, host: Provider | None, owner: type) -> Key[T] | T:
        return self if host is None else host.need(self)

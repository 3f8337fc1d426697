"""The services' composition (issue 22): each service gets the collaborators it uses as typed
constructor parameters from one composition root (``Services``), none gets the registry, and
who-needs-whom has no cycle — so any service can be read, and built, from what it names."""

from __future__ import annotations

import inspect
from graphlib import TopologicalSorter
from pathlib import Path

from codality_server.db.database import Database
from codality_server.events.bus import EventBus
from codality_server.services import Services
from codality_server.services.base import Core, Service
from codality_server.settings import ServerSettings


def compose(tmp_path: Path) -> Services:
    """The composition root as the app builds it (nothing is opened or started)."""
    config = ServerSettings(data_dir=tmp_path, port=0, keyring=False)
    return Services(Core(db=Database(tmp_path / "graph.db"), bus=EventBus(), config=config))


def built_services(services: Services) -> dict[str, Service]:
    return {name: value for name, value in vars(services).items() if isinstance(value, Service)}


def every_service_class() -> set[type[Service]]:
    found: set[type[Service]] = set()
    pending = [Service]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.add(sub)
            pending.append(sub)
    return found


def collaborators(service: Service, by_class_name: dict[str, str]) -> dict[str, str]:
    """The constructor's parameters that are services: parameter name → registry name."""
    found = {}
    for param in list(inspect.signature(type(service).__init__).parameters.values())[1:]:
        annotation = param.annotation
        name = annotation if isinstance(annotation, str) else annotation.__name__
        if name in by_class_name:
            found[param.name] = by_class_name[name]
    return found


def test_every_service_is_built_once_by_the_composition_root(tmp_path: Path) -> None:
    built = built_services(compose(tmp_path))
    classes = [type(service) for service in built.values()]
    assert len(set(classes)) == len(classes), "a service class is built twice"
    assert set(classes) == every_service_class(), "a service class the root never builds"


def test_no_service_takes_or_keeps_the_registry(tmp_path: Path) -> None:
    services = compose(tmp_path)
    for name, service in built_services(services).items():
        params = inspect.signature(type(service).__init__).parameters.values()
        takes = [p.name for p in params if "Services" in str(p.annotation) or p.name == "services"]
        assert not takes, f"{name} is built with the registry ({takes})"
        kept = [attr for attr, value in vars(service).items() if value is services]
        assert not kept, f"{name} keeps the registry as {kept}"


def test_collaborators_are_the_ones_the_root_built_and_form_no_cycle(tmp_path: Path) -> None:
    built = built_services(compose(tmp_path))
    by_class_name = {type(service).__name__: name for name, service in built.items()}
    graph: dict[str, set[str]] = {}
    for name, service in built.items():
        uses = collaborators(service, by_class_name)
        for param, target in uses.items():
            assert getattr(service, param) is built[target], f"{name}.{param} is not {target}"
        graph[name] = set(uses.values())
    assert graph["comments"] == {"tickets"}  # the ticket agent reads comments, not the reverse
    assert graph["pull_requests"] >= {"worktrees", "agent", "github"}
    TopologicalSorter(graph).prepare()  # CycleError names a cycle
    # The root builds services lower ones first, in an order the graph allows.
    position = {name: at for at, name in enumerate(built)}
    for name, needs in graph.items():
        assert all(position[used] < position[name] for used in needs), name

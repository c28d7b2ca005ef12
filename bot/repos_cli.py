"""`awo repos add|list|remove` over the configured store."""

from __future__ import annotations

import argparse

from bot.errors import NotFound
from bot.models import Repository, full_name_of
from bot.repositories import normalise_url, verify_repository
from bot.runtime import build_github
from bot.settings import Settings
from bot.store import Store, repository_for
from bot.store.factory import build_store


async def run_repos(settings: Settings, args: argparse.Namespace) -> int:
    store = build_store(settings)
    await store.open()
    try:
        return await ACTIONS[args.repos_command](store, settings, args)
    finally:
        await store.close()


async def add(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    try:
        url = normalise_url(args.repository, settings.github_web_origin)
    except ValueError as exc:
        print(f"awo: {exc}")
        return 2
    repo = Repository(repository_url=url, owner=full_name_of(url).split("/")[0])
    if not args.no_verify:
        repo = await verify_repository(repo, build_github(settings), settings.remote_policy,
                                       settings.github_web_origin)
    saved = await store.add_repository(repo)
    print(f"added {saved.full_name} ({saved.id}), default branch {saved.default_branch or 'from each event'}")
    return 0


async def list_(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    repos = await store.list_repositories()
    for repo in repos:
        verified = "verified" if repo.is_verified else "not verified"
        commands = ",".join(repo.default_commands)
        print(f"{repo.id}  {repo.full_name}  {repo.default_branch or '-'}  {verified}  {commands}  {repo.clone_url}")
    if not repos:
        print("no repositories configured; add one with `awo repos add owner/repo`")
    return 0


async def remove(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    target = args.repository
    repo = await repository_for(store, full_name_of(target), target)
    if repo is None:
        try:
            repo = await store.get_repository(target)
        except NotFound:
            print(f"awo: no configured repository matches {target!r}")
            return 1
    await store.delete_repository(repo.id)
    print(f"removed {repo.full_name}")
    return 0


ACTIONS = {"add": add, "list": list_, "remove": remove}

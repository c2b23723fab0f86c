"""Users and API keys on every database: the username rule, the last active admin, the
subset rule for minting keys, and scopes that follow the user's role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from filewallball.errors import Conflict, InsufficientScope, InvalidInput, NotFound, Unauthorized
from filewallball.models import ApiKey, utcnow
from filewallball.operations import files, keys, users
from filewallball.operations.users import SCOPES, UserChanges
from tests import factories

ALL = frozenset(SCOPES)


def test_a_username_is_stored_lowercased_and_found_in_any_case(session: Session) -> None:
    users.create_user(session, "Alice.B-2_x")
    assert users.get_user(session, "ALICE.b-2_X").username == "alice.b-2_x"


@pytest.mark.parametrize("name", ["", "a" * 65, "bob smith", "bøb", "bob/1", "bob\n"])
def test_a_username_outside_the_rule_is_refused(session: Session, name: str) -> None:
    with pytest.raises(InvalidInput, match="a-z, 0-9"):
        users.create_user(session, name)


def test_a_taken_username_is_a_conflict_whatever_its_case(session: Session) -> None:
    users.create_user(session, "carol")
    with pytest.raises(Conflict, match="carol"):
        users.create_user(session, "CAROL")


def test_a_password_is_hashed_with_argon2id_and_checked(session: Session) -> None:
    user = users.create_user(session, "dave", password="correct horse")
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert users.password_matches(user, "correct horse")
    assert not users.password_matches(user, "wrong horse")
    with pytest.raises(InvalidInput, match="at least 8"):
        users.set_password(session, user, "short")


def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(session: Session) -> None:
    users.create_user(session, "root1", role="admin")
    with pytest.raises(Conflict, match="last active admin"):
        users.change_user(session, "root1", UserChanges(role="member"))
    with pytest.raises(Conflict, match="last active admin"):
        users.deactivate_user(session, "root1")

    users.create_user(session, "root2", role="admin")
    users.deactivate_user(session, "root1")
    with pytest.raises(Conflict, match="root2"):
        users.change_user(session, "root2", UserChanges(role="member"))
    users.change_user(session, "root1", UserChanges(is_active=True))
    assert users.change_user(session, "root2", UserChanges(role="member")).role == "member"


def test_changes_leave_out_what_is_not_given_and_null_quotas_are_unlimited(
    session: Session,
) -> None:
    users.create_user(session, "erin", display_name="Erin", quota_bytes=10, quota_files=2)
    changed = users.change_user(session, "erin", UserChanges(quota_bytes=None))
    assert (changed.display_name, changed.quota_bytes, changed.quota_files) == ("Erin", None, 2)
    with pytest.raises(InvalidInput, match="role"):
        users.change_user(session, "erin", UserChanges(role=None))
    with pytest.raises(NotFound):
        users.change_user(session, "nobody", UserChanges(display_name="x"))


def test_a_users_record_counts_their_live_and_trashed_files(session: Session) -> None:
    user = users.create_user(session, "frank")
    kept = files.create_file(session, factories.spec(content=b"12345"))
    trashed = files.create_file(session, factories.spec(content=b"123"))
    files.create_file(session, factories.spec())  # the admin's
    kept.owner_id = trashed.owner_id = user.id
    session.flush()
    files.soft_delete_file(session, trashed.file_uuid)
    record = users.user_record(session, user)
    assert (record.used_bytes, record.used_files) == (8, 2)
    assert "password_hash" not in record.model_dump()


def test_a_key_is_shown_once_stored_as_a_hash_and_found_by_its_prefix(session: Session) -> None:
    user = users.create_user(session, "gina")
    new = keys.create_key(session, user, "laptop", ["files:read"], granted=ALL)
    assert keys.KEY_FORMAT.fullmatch(new.key)
    assert new.key.startswith(f"fwb_{new.prefix}_")
    row = session.get(ApiKey, new.id)
    assert row is not None
    assert new.key.split("_")[2] not in row.secret_hash
    holder = keys.holder_of(session, new.key)
    assert (holder.username, holder.scopes, holder.key_id) == ("gina", {"files:read"}, new.id)
    with pytest.raises(Unauthorized, match="unknown"):
        keys.holder_of(session, new.key[:-1] + ("A" if new.key[-1] != "A" else "B"))
    with pytest.raises(Unauthorized, match="unknown"):
        keys.holder_of(session, "fwb_nonsense")


def test_no_key_can_mint_a_stronger_one(session: Session) -> None:
    user = users.create_user(session, "hank", role="admin")
    granted = frozenset({"files:read", "files:write"})
    with pytest.raises(InsufficientScope, match="files:delete") as refused:
        keys.create_key(session, user, "k", ["files:read", "files:delete"], granted=granted)
    assert refused.value.scope == "files:delete"
    made = keys.create_key(session, user, "k", ["files:write", "files:read"], granted=granted)
    assert made.scopes == ["files:read", "files:write"]


def test_a_key_cannot_have_what_its_users_role_does_not_allow(session: Session) -> None:
    member = users.create_user(session, "ivy")
    with pytest.raises(InvalidInput, match="member's key cannot have admin"):
        keys.create_key(session, member, "k", ["admin"], granted=ALL)
    with pytest.raises(InvalidInput, match="unknown scope 'files:own'"):
        keys.create_key(session, member, "k", ["files:own"], granted=ALL)


def test_a_demoted_admins_keys_lose_admin_at_once(session: Session) -> None:
    users.create_user(session, "keeper", role="admin")
    jack = users.create_user(session, "jack", role="admin")
    new = keys.create_key(session, jack, "ops", ["admin", "files:read"], granted=ALL)
    assert keys.holder_of(session, new.key).scopes == {"admin", "files:read"}
    users.change_user(session, "jack", UserChanges(role="member"))
    assert keys.holder_of(session, new.key).scopes == {"files:read"}


def test_revoked_expired_and_deactivated_keys_are_refused(session: Session) -> None:
    users.create_user(session, "keeper", role="admin")
    kim = users.create_user(session, "kim")
    revoked = keys.create_key(session, kim, "a", ["files:read"], granted=ALL)
    expiring = keys.create_key(
        session, kim, "b", ["files:read"], granted=ALL, expires_at=utcnow() + timedelta(hours=1)
    )
    keys.revoke_key(session, revoked.id, kim)
    with pytest.raises(Unauthorized, match="revoked"):
        keys.holder_of(session, revoked.key)
    row = session.get(ApiKey, expiring.id)
    assert row is not None
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    with pytest.raises(Unauthorized, match="expired"):
        keys.holder_of(session, expiring.key)
    with pytest.raises(InvalidInput, match="future"):
        keys.create_key(session, kim, "c", ["files:read"], granted=ALL, expires_at=utcnow())

    active = keys.create_key(session, kim, "d", ["files:read"], granted=ALL)
    users.deactivate_user(session, "kim")
    with pytest.raises(Unauthorized, match="deactivated"):
        keys.holder_of(session, active.key)
    users.change_user(session, "kim", UserChanges(is_active=True))
    assert keys.holder_of(session, active.key).username == "kim"


def test_only_the_owner_revokes_their_key_and_lists_see_it_revoked(session: Session) -> None:
    owner, other = users.create_user(session, "lena"), users.create_user(session, "mo")
    new = keys.create_key(session, owner, "a", ["files:read"], granted=ALL)
    with pytest.raises(NotFound):
        keys.revoke_key(session, new.id, other)
    keys.revoke_key(session, new.id)  # the admin
    (listed,) = keys.list_keys(session, owner)
    assert listed.revoked_at is not None
    assert keys.list_keys(session, other) == []


def test_key_uses_move_last_used_at_forward_only(session: Session) -> None:
    user = users.create_user(session, "nina")
    new = keys.create_key(session, user, "a", ["files:read"], granted=ALL)
    now = utcnow()
    keys.record_key_uses(session, [(new.id, now), (new.id, now - timedelta(seconds=5))])
    keys.record_key_uses(session, [(new.id, now - timedelta(seconds=9))])
    session.expire_all()
    (listed,) = keys.list_keys(session, user)
    assert listed.last_used_at == now

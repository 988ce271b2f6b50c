"""The member centre's data: one profile per person (1+N identities), staff relations, tags,
custom attributes, consent, service notes and the history of what happened to a profile."""

from members.models.attributes import AttributeDefinition, AttributeType
from members.models.consent import Consent, ConsentChannel, ConsentPurpose, ConsentRecord
from members.models.history import MemberEvent, MemberMerge
from members.models.identity import Channel, Identity
from members.models.member import Gender, Member, Source, Stage
from members.models.notes import NoteKind, ServiceNote
from members.models.relations import AddWay, StaffRelation
from members.models.tags import MemberTag, Tag, TagGroup, TagSource

__all__ = [
    "AddWay",
    "AttributeDefinition",
    "AttributeType",
    "Channel",
    "Consent",
    "ConsentChannel",
    "ConsentPurpose",
    "ConsentRecord",
    "Gender",
    "Identity",
    "Member",
    "MemberEvent",
    "MemberMerge",
    "MemberTag",
    "NoteKind",
    "ServiceNote",
    "Source",
    "Stage",
    "StaffRelation",
    "Tag",
    "TagGroup",
    "TagSource",
]

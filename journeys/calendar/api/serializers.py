"""Serializers of the content calendar API: what it answers (a post with its completion as the reader
may see it, its senders) and the bodies it takes (strict fields)."""

from __future__ import annotations

from rest_framework import serializers

from journeys.calendar.models import (
    MAX_IMAGES,
    MAX_SENDERS,
    MAX_TAGS,
    TITLE_MAX,
    URL_MAX,
    PlannedPost,
    PostAudience,
    PostKind,
    PostStaff,
    PostState,
    StaffStatus,
)
from scrm.api import fields as strict


class CalendarCompletionSerializer(serializers.Serializer):
    senders = serializers.IntegerField(help_text="Senders asked to post (those left out not counted).")
    posted = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Not posted yet.")
    refused = serializers.IntegerField(help_text="Senders WeCom refused.")
    skipped = serializers.IntegerField(help_text="Left out: left the brand or no WeCom account.")
    share = serializers.IntegerField(allow_null=True, help_text="Posted, in whole percent of the senders.")


class CalendarPostSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True,
                                         help_text="The store's code; null for a brand-wide post.")
    kind = serializers.ChoiceField(choices=PostKind.choices, read_only=True)
    audience = serializers.ChoiceField(choices=PostAudience.choices, read_only=True)
    state = serializers.ChoiceField(choices=PostState.choices, read_only=True)
    staff = serializers.ListField(source="staff_ids", child=serializers.IntegerField(), read_only=True)
    tags = serializers.ListField(source="tag_ids", child=serializers.IntegerField(), read_only=True)
    images = serializers.ListField(source="image_ids", child=serializers.IntegerField(), read_only=True,
                                   help_text="Campaign image ids (/api/v1/campaign-images/), in order.")
    # Empty when the post has none: a URL format in the schema would rule the empty string out.
    link_url = serializers.CharField(read_only=True, help_text="The link's URL; empty: no link.")
    image_url = serializers.CharField(read_only=True, help_text="The image's URL; empty: no image.")
    completion = serializers.SerializerMethodField()

    class Meta:
        model = PlannedPost
        fields = ["id", "kind", "store", "title", "publish_at", "text", "link_url", "link_title", "image_url",
                  "images", "audience", "staff", "tags", "state", "jobid", "moment_id", "error", "submitted_at",
                  "created_in_wecom_at", "cancelled_at", "closed_at", "created_at", "updated_at", "completion"]
        read_only_fields = fields

    def get_completion(self, post) -> CalendarCompletionSerializer:
        from journeys.calendar.queries import share

        senders = getattr(post, "n_senders", 0)
        posted = getattr(post, "n_posted", 0)
        return {"senders": senders, "posted": posted, "pending": getattr(post, "n_pending", 0),
                "refused": getattr(post, "n_refused", 0),
                "skipped": getattr(post, "n_skipped", 0), "share": share(posted, senders)}


class CalendarSenderSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=StaffStatus.choices, read_only=True)
    staff = serializers.IntegerField(source="user_id", read_only=True, allow_null=True)

    class Meta:
        model = PostStaff
        fields = ["id", "staff", "name", "userid", "store", "status", "reason", "checked_at", "posted_at"]
        read_only_fields = fields


class CalendarCompletionAnswerSerializer(serializers.Serializer):
    completion = CalendarCompletionSerializer()
    senders = CalendarSenderSerializer(many=True,
                                       help_text="Every sender the reader may see (a post has at most 1,000).")


class CalendarPostInputSerializer(serializers.Serializer):
    title = strict.CharField(max_length=TITLE_MAX, help_text="For the calendar; not posted.")
    kind = strict.ChoiceField(choices=PostKind.choices, required=False, default=PostKind.MOMENT)
    publish_at = serializers.DateTimeField(help_text="When WeCom asks the staff to post it; a time without an "
                                                     "offset is read in the brand's time zone.")
    text = strict.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                            help_text="At most 4,000 bytes; a post needs a text or a link.")
    link_url = strict.URLField(required=False, allow_blank=True, default="", max_length=URL_MAX)
    link_title = strict.CharField(required=False, allow_blank=True, default="", max_length=TITLE_MAX)
    image_url = strict.URLField(required=False, allow_blank=True, default="", max_length=URL_MAX,
                                help_text="Shown to the staff who post it.")
    audience = strict.ChoiceField(choices=PostAudience.choices, required=False, default=PostAudience.STORE,
                                  help_text="staff: the chosen `staff`; store: every staff member of `store` with a "
                                            "WeCom account; all: every staff member (operators and brand keys).")
    store = strict.CharField(required=False, allow_null=True, default=None,
                             help_text="The store's code (store accounts: their own); null: brand-wide.")
    staff = serializers.ListField(child=strict.IntegerField(min_value=1), required=False, default=list,
                                  max_length=MAX_SENDERS, help_text="Staff account ids, for audience staff.")
    tags = serializers.ListField(child=strict.IntegerField(min_value=1), required=False, default=list,
                                 max_length=MAX_TAGS, help_text="Member tags linked to WeCom corp tags: a Moment is "
                                                                "visible to the customers carrying them.")
    images = serializers.ListField(child=strict.IntegerField(min_value=1), required=False, default=list,
                                   max_length=MAX_IMAGES,
                                   help_text="Images uploaded through /api/v1/campaign-images/ (JPG or PNG, at most "
                                             "10 MB), of the post's store or brand-wide, at most 9; a Moment carries "
                                             "images or a link, not both. Uploaded to WeCom when it is handed over.")
    schedule = strict.BooleanField(required=False, default=True, help_text="false: keep it a draft.")


class CalendarPostPatchSerializer(CalendarPostInputSerializer):
    """The same fields, each optional: what is left out keeps its value."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty

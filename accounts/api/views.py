from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied

from accounts import services
from accounts.access import IsApiKeyOrOperator, acts_for_any_user, user_for_request
from accounts.api import serializers as s
from accounts.selectors import user_list
from core.api.envelope import ok
from core.api.validation import validate_input
from core.errors import Conflict, ValidationFailed


class UserViewSet(viewsets.ViewSet):
    """End users of the host product. Keys and operators see everyone; an end user, themselves."""

    lookup_field = "user_id"

    def get_permissions(self):
        if self.action == "create":
            return [IsApiKeyOrOperator()]
        return super().get_permissions()

    @extend_schema(
        operation_id="users_list",
        parameters=[OpenApiParameter("status", enum=["active", "inactive"], required=False)],
        responses=s.UserListEnvelope,
    )
    def list(self, request):
        query = validate_input(s.UserListQuery, request.query_params)
        users = user_list(status=query.get("status"))
        if not acts_for_any_user(request.user):
            users = users.filter(pk=request.user.pk)
        items = s.UserListItemOutput(users, many=True).data
        return ok(users=items, total=len(items))

    @extend_schema(
        operation_id="users_create", request=s.UserCreateInput, responses={201: s.UserCreatedEnvelope}
    )
    def create(self, request):
        data = validate_input(s.UserCreateInput, request.data)
        user = services.user_create(
            user_id=data["userId"],
            name=data["name"],
            email=data["email"],
            status=data.get("status", "active"),
        )
        return ok(201, message="User created successfully", user=s.UserOutput(user).data)

    @extend_schema(operation_id="users_retrieve", responses=s.UserEnvelope)
    def retrieve(self, request, user_id=None):
        user = user_for_request(request.user, user_id)
        return ok(user=s.UserOutput(user).data)

    @extend_schema(operation_id="users_update", request=s.UserUpdateInput, responses=s.UserCreatedEnvelope)
    def partial_update(self, request, user_id=None):
        user = user_for_request(request.user, user_id)
        data = validate_input(s.UserUpdateInput, request.data)
        if not data:
            raise ValidationFailed(["Nothing to update: send name, email or status"])
        if "status" in data and not acts_for_any_user(request.user):
            raise PermissionDenied("Only an API key or an operator may change a user's status")
        try:
            user = services.user_update(user=user, **data)
        except Conflict:
            if acts_for_any_user(request.user):
                raise
            # An end user learns nothing about other accounts: not that this email has one.
            raise ValidationFailed(["email cannot be used for this account"]) from None
        return ok(message="User updated successfully", user=s.UserOutput(user).data)

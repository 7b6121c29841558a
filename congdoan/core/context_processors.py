from congdoan.core import scoping


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"is_official": False}
    return {"is_official": scoping.is_official(user)}

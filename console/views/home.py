from django.shortcuts import render

from console.permissions import console_admin_required


@console_admin_required
def home(request):
    organization = request.user.organization
    return render(request, "console/home.html", {"organization": organization})

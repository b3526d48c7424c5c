import factory

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    user_id = factory.Sequence(lambda n: f"user_{n:04d}")
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    status = User.Status.ACTIVE
    password = factory.django.Password("correct horse battery staple")


class OperatorFactory(UserFactory):
    user_id = factory.Sequence(lambda n: f"operator_{n:04d}")
    is_staff = True
    is_superuser = True

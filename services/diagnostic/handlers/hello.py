# A user handler: hipflask runs this file with the service's Flask app as `app`.


@app.route("/hello", methods=["GET"])  # noqa: F821 (app is given by the handler loader)
def howdy():
    """Say hello.

    :statuscode 200: always, ``World!``
    """
    return "World!"

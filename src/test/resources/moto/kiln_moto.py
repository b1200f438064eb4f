"""moto's S3, STS, IAM and ECR on 127.0.0.1:PORT, with authentication enforced once the test's fixtures exist.

    python3 kiln_moto.py PORT CONTEXT_TAR_GZ

Creates the IAM user `kiln` (an access key allowed s3:* and ecr:GetAuthorizationToken), the role `kiln-builder` (assumable with a web
identity, allowed the same), the bucket `kiln-contexts` holding CONTEXT_TAR_GZ as `ctx/context.tar.gz`, then
turns signature and policy checks on and prints one JSON line: {"accessKeyId","secretAccessKey","roleArn"}.
Runs until stdin closes.

moto checks a signature on AssumeRoleWithWebIdentity, which AWS itself never signs (the token is the proof):
that single call is let through, as AWS does.
"""
import json
import sys

import boto3
from moto import settings
from moto.core import authorization
from moto.server import ThreadedMotoServer

port = int(sys.argv[1])
context = open(sys.argv[2], 'rb').read()

settings.INITIAL_NO_AUTH_ACTION_COUNT = float('inf')
checked = authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action


def unsigned_web_identity(self, iam_request_cls, resource='*'):
    if self._get_action() == 'AssumeRoleWithWebIdentity':
        return
    return checked(self, iam_request_cls, resource)


authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action = unsigned_web_identity

server = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
server.start()
endpoint = 'http://127.0.0.1:%d' % port
setup = dict(endpoint_url=endpoint, region_name='us-east-1', aws_access_key_id='setup', aws_secret_access_key='setup')
iam = boto3.client('iam', **setup)
iam.create_user(UserName='kiln')
key = iam.create_access_key(UserName='kiln')['AccessKey']
policy = json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': ['s3:*', 'ecr:GetAuthorizationToken'],
                                                          'Resource': '*'}]})
iam.put_user_policy(UserName='kiln', PolicyName='s3', PolicyDocument=policy)
trust = json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Principal': {'Federated': 'kiln-test'},
                                                            'Action': 'sts:AssumeRoleWithWebIdentity'}]})
role = iam.create_role(RoleName='kiln-builder', AssumeRolePolicyDocument=trust)['Role']
iam.put_role_policy(RoleName='kiln-builder', PolicyName='s3', PolicyDocument=policy)
s3 = boto3.client('s3', **setup)
s3.create_bucket(Bucket='kiln-contexts')
s3.put_object(Bucket='kiln-contexts', Key='ctx/context.tar.gz', Body=context)
settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
authorization.ActionAuthenticatorMixin.request_count = 0
print(json.dumps({'accessKeyId': key['AccessKeyId'], 'secretAccessKey': key['SecretAccessKey'], 'roleArn': role['Arn']}),
      flush=True)
sys.stdin.read()
server.stop()

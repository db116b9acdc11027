package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
)

// keystoneToken: the token the client was issued (project, user, roles, expiry) and its validation
// through GET /v3/auth/tokens, as a service validating a caller's token does; an unknown token is 404.
func keystoneToken(ctx context.Context, e *env, _ *undo) error {
	issued, ok := e.provider.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return fmt.Errorf("auth result is %T, want a Keystone v3 token", e.provider.GetAuthResult())
	}
	token, err := issued.ExtractToken()
	if err != nil {
		return err
	}
	if token.ID == "" || !token.ExpiresAt.After(time.Now()) {
		return fmt.Errorf("token id %q expires %v: want an id and a future expiry", token.ID, token.ExpiresAt)
	}
	project, err := issued.ExtractProject()
	if err != nil || project == nil || project.ID == "" {
		return fmt.Errorf("token has no project scope (%v)", err)
	}
	user, err := issued.ExtractUser()
	if err != nil {
		return err
	}
	roles, err := issued.ExtractRoles()
	if err != nil || len(roles) == 0 {
		return fmt.Errorf("token has no roles (%v)", err)
	}

	c, err := e.clients()
	if err != nil {
		return err
	}
	identity := c.identity
	validated := tokens.Get(ctx, identity, token.ID)
	again, err := validated.ExtractUser()
	if err != nil {
		return fmt.Errorf("validating the token: %w", err)
	}
	if err := expect("validated token's user", again.ID, user.ID); err != nil {
		return err
	}
	if valid, err := tokens.Validate(ctx, identity, token.ID); err != nil || !valid {
		return fmt.Errorf("HEAD /v3/auth/tokens: valid=%v, %v", valid, err)
	}
	return want404(tokens.Get(ctx, identity, "gAAAAABnotatoken0000000000").Err, "validating an unknown token")
}

// serviceClients are the constructors OCCM and Cinder CSI find their endpoints with, by service type.
var serviceClients = map[string]func(*gophercloud.ProviderClient, gophercloud.EndpointOpts) (*gophercloud.ServiceClient, error){
	"identity":      openstack.NewIdentityV3,
	"compute":       openstack.NewComputeV2,
	"image":         openstack.NewImageV2,
	"network":       openstack.NewNetworkV2,
	"load-balancer": openstack.NewLoadBalancerV2,
	"block-storage": openstack.NewBlockStorageV3,
	"object-store":  openstack.NewObjectStorageV1,
}

// keystoneCatalog: every service type the clients use has an endpoint in the token's catalog for the
// region and interface asked, found the way gophercloud's constructors find it.
func keystoneCatalog(_ context.Context, e *env, _ *undo) error {
	var errs []error
	for _, kind := range []string{"identity", "compute", "image", "network", "load-balancer", "block-storage", "object-store"} {
		client, err := serviceClients[kind](e.provider, e.eo)
		if err == nil && client.Endpoint == "" {
			err = errors.New("empty endpoint")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s endpoint: %w", kind, err))
		}
	}
	return errors.Join(errs...)
}

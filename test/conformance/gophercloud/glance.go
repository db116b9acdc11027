package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// makeImage uploads a small raw image named name, deleted by u; returns its id once active.
func makeImage(ctx context.Context, e *env, u *undo, name string) (string, error) {
	image, err := openstack.NewImageV2(e.provider, e.eo)
	if err != nil {
		return "", err
	}
	made, err := images.Create(ctx, image, images.CreateOpts{
		Name:            name,
		DiskFormat:      "raw",
		ContainerFormat: "bare",
		Tags:            []string{e.run},
	}).Extract()
	if err != nil {
		return "", fmt.Errorf("image create: %w", err)
	}
	u.add(func(ctx context.Context) error { return images.Delete(ctx, image, made.ID).ExtractErr() })
	if err := imagedata.Upload(ctx, image, made.ID, bytes.NewReader(make([]byte, 64*1024))).ExtractErr(); err != nil {
		return "", fmt.Errorf("image upload: %w", err)
	}
	err = waitStatus(ctx, "image "+made.ID, "active", func(ctx context.Context) (string, error) {
		got, err := images.Get(ctx, image, made.ID).Extract()
		if err != nil {
			return "", err
		}
		return string(got.Status), nil
	}, "killed", "deleted")
	return made.ID, err
}

// glanceImages: an uploaded image found by list with name and tag filters and by get, deleted until
// 404; an unknown disk format is 400.
func glanceImages(ctx context.Context, e *env, u *undo) error {
	image, err := openstack.NewImageV2(e.provider, e.eo)
	if err != nil {
		return err
	}
	name := e.run + "-image"
	id, err := makeImage(ctx, e, u, name)
	if err != nil {
		return err
	}
	pages, err := images.List(image, images.ListOpts{Name: name, Tags: []string{e.run}}).AllPages(ctx)
	if err != nil {
		return fmt.Errorf("image list: %w", err)
	}
	listed, err := images.ExtractImages(pages)
	if err != nil {
		return err
	}
	if len(listed) != 1 || listed[0].ID != id {
		return fmt.Errorf("image list name=%s tag=%s: %d images, want exactly %s", name, e.run, len(listed), id)
	}
	got, err := images.Get(ctx, image, id).Extract()
	if err != nil {
		return err
	}
	if got.Name != name || got.SizeBytes != 64*1024 || got.DiskFormat != "raw" {
		return fmt.Errorf("image get: name %q, size %d, disk format %q", got.Name, got.SizeBytes, got.DiskFormat)
	}
	if err := images.Delete(ctx, image, id).ExtractErr(); err != nil {
		return err
	}
	if err := want404(images.Get(ctx, image, id).Err, "get of the deleted image"); err != nil {
		return err
	}
	bad := images.CreateOpts{Name: e.run + "-bad", DiskFormat: "floppy", ContainerFormat: "bare"}
	made := images.Create(ctx, image, bad)
	if made.Err == nil {
		if leaked, err := made.Extract(); err == nil {
			u.add(func(ctx context.Context) error { return images.Delete(ctx, image, leaked.ID).ExtractErr() })
		}
	}
	return wantCode(made.Err, 400, "image create with disk format floppy")
}

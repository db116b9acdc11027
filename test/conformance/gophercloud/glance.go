package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// makeImage uploads a small raw image named name and tagged run, deleted by u; returns its id once
// active.
func makeImage(ctx context.Context, c *services, run string, u *undo, name string) (string, error) {
	made, err := images.Create(ctx, c.image, images.CreateOpts{
		Name:            name,
		DiskFormat:      "raw",
		ContainerFormat: "bare",
		Tags:            []string{run},
	}).Extract()
	if err != nil {
		return "", fmt.Errorf("image create: %w", err)
	}
	u.add(func(ctx context.Context) error { return images.Delete(ctx, c.image, made.ID).ExtractErr() })
	if err := imagedata.Upload(ctx, c.image, made.ID, bytes.NewReader(make([]byte, 64*1024))).ExtractErr(); err != nil {
		return "", fmt.Errorf("image upload: %w", err)
	}
	err = waitStatus(ctx, "image "+made.ID, "active", func(ctx context.Context) (string, error) {
		got, err := images.Get(ctx, c.image, made.ID).Extract()
		return statusOf(got, err, func(i *images.Image) string { return string(i.Status) })
	}, "killed", "deleted")
	return made.ID, err
}

// glanceImages: an uploaded image found by list with name and tag filters and by get, deleted until
// 404; an unknown disk format is 400.
func glanceImages(ctx context.Context, e *env, c *services, u *undo) error {
	name := e.run + "-image"
	id, err := makeImage(ctx, c, e.run, u, name)
	if err != nil {
		return err
	}
	listed, err := list(ctx, images.List(c.image, images.ListOpts{Name: name, Tags: []string{e.run}}), images.ExtractImages)
	if err != nil || len(listed) != 1 || listed[0].ID != id {
		return fmt.Errorf("image list name=%s tag=%s: %d images (%v), want exactly %s", name, e.run, len(listed), err, id)
	}
	got, err := images.Get(ctx, c.image, id).Extract()
	if err != nil {
		return err
	}
	if got.Name != name || got.SizeBytes != 64*1024 || got.DiskFormat != "raw" {
		return fmt.Errorf("image get: name %q, size %d, disk format %q", got.Name, got.SizeBytes, got.DiskFormat)
	}
	if err := images.Delete(ctx, c.image, id).ExtractErr(); err != nil {
		return err
	}
	if err := want404(images.Get(ctx, c.image, id).Err, "get of the deleted image"); err != nil {
		return err
	}
	made := images.Create(ctx, c.image, images.CreateOpts{Name: e.run + "-bad", DiskFormat: "floppy", ContainerFormat: "bare"})
	if leaked, err := made.Extract(); err == nil {
		u.add(func(ctx context.Context) error { return images.Delete(ctx, c.image, leaked.ID).ExtractErr() })
	}
	return wantCode(made.Err, 400, "image create with disk format floppy")
}

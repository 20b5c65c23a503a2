/**
 * A legacy image bucket's objects as the s3:// source tests seed them (flat keys, no useful
 * Content-Type or Cache-Control), the catalogue that maps them, and the keys and types a migration
 * gives them under the `catalog` prefix.
 */
import { jpeg, png, webp } from './images.js';

export const LEGACY_IMAGES: Record<string, Buffer> = {
  'img/1001-front.jpg': jpeg(9000, 1),
  'img/1001-back.png': png(6000, 2),
  'img/2002.webp': webp(5000, 3),
  'img/3003-blue.gif': png(3000, 4), // PNG bytes behind a .gif name: typed from the bytes
};

export const LEGACY_CATALOG = `image,sku,category,variant,position
1001-front.jpg,SKU-1001,Skincare > Serums,Front,1
1001-back.png,SKU-1001,Skincare > Serums,Back,2
2002.webp,SKU-2002,Skincare > Creams,,1
3003-blue.gif,SKU-3003,Home > Mugs,Blue,1
`;

export const LEGACY_KEYS: Record<string, string> = {
  'img/1001-front.jpg': 'catalog/skincare/serums/sku-1001/front.jpg',
  'img/1001-back.png': 'catalog/skincare/serums/sku-1001/back.png',
  'img/2002.webp': 'catalog/skincare/creams/sku-2002/1.webp',
  'img/3003-blue.gif': 'catalog/home/mugs/sku-3003/blue.gif',
};

export const LEGACY_TYPES: Record<string, string> = { 'img/1001-front.jpg': 'image/jpeg', 'img/1001-back.png': 'image/png', 'img/2002.webp': 'image/webp', 'img/3003-blue.gif': 'image/png' };
